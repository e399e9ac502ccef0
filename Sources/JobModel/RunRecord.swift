/// One ended run of a job's command, as `GET /v1/jobs/{id}/runs` gives it: when it started and
/// ended, how it ended, and what it used.
public struct RunRecord: Hashable, Sendable, Codable {
    /// The run's number (from 1; every start counted, as ``Job/runs``).
    public var run: Int
    public var startedAt: Timestamp?
    public var finishedAt: Timestamp
    public var exitCode: Int32?
    public var signal: Int32?
    /// How the run ended, when it failed.
    public var error: String?
    /// What it used; absent for a run that never started a process.
    public var usage: RunUsage?
    /// The node that ran it, on a PostgreSQL store several jobqd share.
    public var node: String?

    public init(run: Int, startedAt: Timestamp?, finishedAt: Timestamp, exitCode: Int32? = nil, signal: Int32? = nil,
                error: String? = nil, usage: RunUsage? = nil, node: String? = nil) {
        self.run = run
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.exitCode = exitCode
        self.signal = signal
        self.error = error
        self.usage = usage
        self.node = node
    }

    /// How long the run took, when its start is known.
    public var wall: Duration? { startedAt.map { $0.duration(to: finishedAt) } }

    enum CodingKeys: String, CodingKey {
        case run
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case exitCode = "exit_code"
        case signal, error, usage, node
    }
}

/// The answer to `GET /v1/jobs/{id}/runs`: the job's ended runs, oldest first.
public struct RunHistory: Hashable, Sendable, Codable {
    public var runs: [RunRecord]

    public init(runs: [RunRecord]) {
        self.runs = runs
    }
}
