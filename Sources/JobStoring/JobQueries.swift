import JobModel

/// Which jobs a listing returns: every condition given must hold.
public struct JobFilter: Hashable, Sendable {
    /// Any of these states (`nil`: any state).
    public var states: Set<JobState>?
    /// This queue only.
    public var queue: String?
    /// This label only.
    public var label: String?
    /// The jobs of this submitter (uid) only.
    public var submitter: UInt32?
    /// Jobs whose command (its arguments joined by spaces, or its shell line) contains this
    /// text, ignoring case: a search, which reads jobs in order until it fills the page.
    public var commandContains: String?
    /// The jobs that run after this one (its dependents).
    public var runsAfter: JobID?

    /// The words of ``commandContains`` that a stored spec's JSON text must hold as they are,
    /// lowercased: those of letters, digits and the punctuation JSON leaves unescaped (a word
    /// holds no space, so it lies within one argument). A store checks them first, on the raw
    /// text, and parses the spec only for the jobs that have them all.
    public var commandWords: [String] {
        guard let text = commandContains?.lowercased() else { return [] }
        let plain = Set("abcdefghijklmnopqrstuvwxyz0123456789-_.,:;=+@%!#$&*()[]{}<>?~^|'`")
        return text.split(separator: " ").filter { $0.allSatisfy(plain.contains) }.map(String.init)
    }

    public init(states: Set<JobState>? = nil, queue: String? = nil, label: String? = nil, submitter: UInt32? = nil,
                commandContains: String? = nil, runsAfter: JobID? = nil) {
        self.states = states
        self.queue = queue
        self.label = label
        self.submitter = submitter
        self.commandContains = commandContains
        self.runsAfter = runsAfter
    }
}

/// One page of a listing, and the cursor for the next (`nil` on the last page).
public struct JobPage: Hashable, Sendable {
    public var jobs: [Job]
    public var nextCursor: JobID?

    public init(jobs: [Job], nextCursor: JobID?) {
        self.jobs = jobs
        self.nextCursor = nextCursor
    }
}

/// The order of a listing, by id.
public enum ListOrder: String, Hashable, Sendable {
    /// Oldest first.
    case ascending
    /// Newest first.
    case descending
}

/// How many jobs a queue holds in each state.
public struct QueueCounts: Hashable, Sendable {
    public var queue: String
    public var counts: [JobState: Int]

    public init(queue: String, counts: [JobState: Int]) {
        self.queue = queue
        self.counts = counts
    }

    /// The count in one state (0 when none).
    public subscript(state: JobState) -> Int { counts[state] ?? 0 }
    /// Every job of the queue.
    public var total: Int { counts.values.reduce(0, +) }
}
