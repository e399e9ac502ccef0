import JobModel

/// How a node of a PostgreSQL store shows it is alive, and when the others take it for dead.
public struct NodeHeartbeat: Hashable, Sendable {
    /// A node whose last heartbeat is older than this has lapsed: another node requeues its
    /// running jobs (default 30 s).
    public var lapse: Duration
    /// How often a node beats, looks for lapsed nodes, and looks for what the others did that
    /// their notices did not bring (the bound on how long a lost notice delays work or a wait).
    /// A third of the lapse by default.
    public var interval: Duration

    public init(lapse: Duration = .seconds(30), interval: Duration? = nil) {
        self.lapse = lapse
        self.interval = interval ?? lapse / 3
    }
}

/// What the store tells the daemon of the other nodes.
public enum NodeEvent: Hashable, Sendable {
    /// Queues have queued work, which another node may have made (its notice, or a look):
    /// `commands` are claimed by jobqd's workers, `payloads` by consumers.
    case workMayHaveArrived(commands: Set<String>, payloads: Set<String>)
    /// Another node recorded these jobs' terminal states.
    case finishedElsewhere([JobID])
    /// Another node paused (`true`) or resumed a queue: the pause is the cluster's.
    case pausedElsewhere(queue: String, Bool)
    /// Another node changed a queue's number of workers (each node runs that many).
    case workersChangedElsewhere(queue: String, Int)
    /// The queues paused now, and the numbers of workers set at run time, as the database
    /// holds them (a look, in case a notice of a change was missed).
    case queueSettings(paused: Set<String>, workers: [String: Int])
    /// The store looked at the database for what notices may have missed (a heartbeat, a
    /// reconnected listener): waits and joins should look again at what they wait for.
    case looked
    /// The other nodes took this one for dead and requeued its running jobs: its runs must be
    /// stopped (their records would be refused); it goes on as a new incarnation.
    case lostRuns
}

/// What one heartbeat found.
struct Beat: Hashable, Sendable {
    /// This node had lapsed: its jobs went to others, and it registered again.
    var lost = false
    /// The running jobs of lapsed nodes this beat requeued.
    var rescued: [JobID] = []
    /// This node's own running jobs it no longer held (their end could not be recorded), which
    /// this beat requeued.
    var orphaned: [JobID] = []
}
