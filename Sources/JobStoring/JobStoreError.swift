import JobModel

/// Everything the store can refuse or fail at, with what the caller needs to say why.
///
/// Each case has a stable ``code`` that the API and the CLI map to their error codes and exit
/// statuses. A refused operation changes nothing.
public enum JobStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Spec number `index` of a submitted batch (nil: the only one) is invalid; nothing of the
    /// batch was stored.
    case invalidSpec(index: Int?, JobSpecError)
    /// No job has this id (it never existed, or it was pruned).
    case notFound(JobID)
    /// Spec number `index` (nil: the only one) runs after a job that does not exist; nothing of
    /// the batch was stored.
    case dependencyNotFound(index: Int?, JobID)
    /// The job is in a state that does not allow the operation (`finish` on a queued job,
    /// `cancel` on a finished one, …).
    case illegalTransition(JobID, from: JobState, to: JobState)
    /// The operation conflicts with another job (a live job already holds the idempotency
    /// key; a job this one runs after has failed).
    case conflict(JobID, String)
    /// A lease token that no longer names the job's current lease: the lease expired (and the
    /// job may be leased again), was released, or the job was cancelled or finished. A
    /// consumer that gets this must stop working on the job: another attempt may own it.
    case leaseLost(LeaseToken, String)
    /// Spec number `index` (nil: the only one) is a payload job for a queue whose jobqd's workers
    /// run commands, or the reverse (`payloadQueue`: the queue's kind); nothing was stored.
    case wrongQueueKind(index: Int?, queue: String, payloadQueue: Bool)
    /// A lease was asked of a queue whose jobs are commands that jobqd's workers run.
    case notAConsumerQueue(String)
    /// The daemon's policy refuses the submitter (a job of root when jobs run as their
    /// submitters); nothing was stored.
    case submitterRefused(String)
    /// The database failed: a full disk, an I/O error, a lock held longer than the busy
    /// timeout. A write that fails so was not applied.
    case storage(StorageFailure)
    /// The database cannot be used by this binary (see ``MigrationError``).
    case migration(MigrationError)
    /// The file is not a jobq database (not SQLite, or damaged).
    case notADatabase(path: String, StorageFailure)
    /// The store was closed.
    case closed

    /// A stable, machine-readable name for the kind of error.
    public var code: String {
        switch self {
        case .invalidSpec, .dependencyNotFound: "invalid_request"
        case .notFound: "not_found"
        case .illegalTransition, .conflict: "conflict"
        case .leaseLost: "lease_lost"
        case .wrongQueueKind, .notAConsumerQueue: "wrong_queue_kind"
        case .submitterRefused: "forbidden"
        case .storage(let error) where error.isDiskFull: "storage_full"
        case .storage: "storage_error"
        case .migration, .notADatabase: "database_incompatible"
        case .closed: "shutting_down"
        }
    }

    /// `spec 3 of the batch: ` for a batch's spec, nothing for a request of one.
    private static func inBatch(_ index: Int?) -> String {
        index.map { "spec \($0) of the batch (counted from 0): " } ?? ""
    }

    public var description: String {
        switch self {
        case let .invalidSpec(index, error): Self.inBatch(index) + "\(error)"
        case let .notFound(id): "no job \(id)"
        case let .dependencyNotFound(index, id): Self.inBatch(index) + "it runs after job \(id), which does not exist"
        case let .illegalTransition(id, from, .queued) where from.isTerminal || from == .running:
            "job \(id) has \(from == .running ? "not finished yet (it is running)" : from.rawValue): only a failed or cancelled job can be retried"
        case let .illegalTransition(id, from, .queued):
            "job \(id) is \(from.rawValue), still to run: there is nothing to retry"
        case let .illegalTransition(id, from, .cancelled) where from.isTerminal:
            "job \(id) has already finished (\(from.rawValue)): there is nothing to cancel"
        case let .illegalTransition(id, from, to): "job \(id) is \(from) and cannot become \(to)"
        case let .conflict(id, reason): "job \(id): \(reason)"
        case let .leaseLost(token, why): "lease \(token) is no longer held: \(why)"
        case let .wrongQueueKind(index, queue, true):
            Self.inBatch(index) + "queue '\(queue)' is served by consumers (its jobs carry a payload); "
                + "a command goes to another queue"
        case let .wrongQueueKind(index, queue, false):
            Self.inBatch(index) + "queue '\(queue)' runs commands with jobqd's workers; "
                + "a payload job goes to another queue (a new queue takes the kind of its first job)"
        case let .notAConsumerQueue(queue):
            "queue '\(queue)' runs commands with jobqd's workers: consumers lease from queues of payload jobs"
        case let .submitterRefused(why): why
        case let .storage(error) where error.isDiskFull:
            "the database's disk is full, nothing was written: \(error.message)"
        case let .storage(error) where error.isBusy:
            "the database is locked by another process (longer than the busy timeout), nothing was written: \(error)"
        case let .storage(error): "the database failed, nothing was written: \(error)"
        case let .migration(error): error.description
        case let .notADatabase(path, error): "\(path) is not a jobq database: \(error.message)"
        case .closed: "the job store is closed"
        }
    }
}
