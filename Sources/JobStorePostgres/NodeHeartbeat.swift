import JobModel

/// How a node of a PostgreSQL store shows it is alive, and when the others take it for dead.
public struct NodeHeartbeat: Hashable, Sendable {
    /// A node whose last heartbeat is older than this has lapsed: another node requeues its
    /// running jobs (default 30 s).
    public var lapse: Duration
    /// How often a node beats, looks for lapsed nodes, and looks for work the others made (the
    /// bound on how long a job submitted through another node waits for this one). A third of
    /// the lapse by default.
    public var interval: Duration

    public init(lapse: Duration = .seconds(30), interval: Duration? = nil) {
        self.lapse = lapse
        self.interval = interval ?? lapse / 3
    }
}

/// What the store tells the daemon of the other nodes.
public enum NodeEvent: Hashable, Sendable {
    /// Queues have queued work, which another node may have made (the heartbeat's look):
    /// `commands` are claimed by jobqd's workers, `payloads` by consumers.
    case workMayHaveArrived(commands: Set<String>, payloads: Set<String>)
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
    /// The queues with queued jobs, by kind.
    var commands: Set<String> = []
    var payloads: Set<String> = []
}
