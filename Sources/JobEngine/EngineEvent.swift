import JobModel

/// A change of a job, as the API's live views show it.
public enum EngineEvent: Hashable, Sendable {
    /// Stored and acknowledged (queued, blocked, or failed at once because a job it runs after
    /// had already failed).
    case submitted(Job)
    /// A worker started an attempt.
    case started(Job)
    /// An attempt failed and the job will run again at its `run_at`, or it was put back to
    /// `queued` (a drain, a pause, a retry by hand).
    case requeued(Job)
    /// The job reached a terminal state: succeeded, failed or cancelled.
    case finished(Job)

    /// The job the event is about.
    public var job: Job {
        switch self {
        case .submitted(let job), .started(let job), .requeued(let job), .finished(let job): job
        }
    }
}

/// A queue as the status views show it.
public struct QueueStatus: Hashable, Sendable {
    public var name: String
    public var concurrency: Int
    public var paused: Bool
    /// Jobs whose command is running now.
    public var running: Int
    /// Its jobs carry payloads, which consumers lease.
    public var servesConsumers = false
    /// Lease requests waiting for its work.
    public var waitingConsumers = 0
}
