import Foundation
import JobModel

/// A job as `insert` answers it: the stored job, and whether this call created it (`false`
/// when a live job already held the spec's idempotency key, and that job is returned instead).
public struct SubmittedJob: Hashable, Sendable {
    public var job: Job
    public var created: Bool

    public init(job: Job, created: Bool) {
        self.job = job
        self.created = created
    }
}

/// What `cancel` did: the job as it is now, the state it was in (so that the caller knows
/// whether a running process must be stopped), and the jobs that failed because they ran after it.
public struct CancelledJob: Hashable, Sendable {
    public var job: Job
    public var previousState: JobState
    public var failedDependents: [JobID]

    public init(job: Job, previousState: JobState, failedDependents: [JobID]) {
        self.job = job
        self.previousState = previousState
        self.failedDependents = failedDependents
    }
}

/// What `finish` did: the job as it is now, and what happened to the jobs that run after it
/// (queued once all their dependencies succeeded, or failed down the chain).
public struct FinishedJob: Hashable, Sendable {
    public var job: Job
    /// Jobs that became `queued` because this one succeeded.
    public var unblocked: [JobID]
    /// Jobs that failed because this one (or a job failed by it) failed.
    public var failedDependents: [JobID]

    public init(job: Job, unblocked: [JobID], failedDependents: [JobID]) {
        self.job = job
        self.unblocked = unblocked
        self.failedDependents = failedDependents
    }
}

/// A job removed by pruning, with the output files the caller may now delete.
public struct PrunedJob: Hashable, Sendable {
    public var id: JobID
    public var stdoutPath: String?
    public var stderrPath: String?
    /// How many times it ran: the earlier runs' files are beside the last one's.
    public var runs: Int = 0

    public init(id: JobID, stdoutPath: String?, stderrPath: String?, runs: Int = 0) {
        self.id = id
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
        self.runs = runs
    }

    /// Every output file of every run (stdout, stderr, and both together).
    public var outputPaths: [String] {
        let latest = [stdoutPath, stderrPath].compactMap { $0 }
        guard let last = stdoutPath ?? stderrPath else { return latest }
        let directory = (last as NSString).deletingLastPathComponent
        let all = (1...max(1, runs)).flatMap { run in
            ["out", "err", "log"].map { Job.logPath(directory: directory, id: id, run: run, stream: $0) }
        }
        return Array(Set(latest + all)).sorted()
    }
}

/// What a claim took: the jobs, now `running`, and whether the queue still had a ready job
/// after them (so that the caller does not claim again only to find nothing).
public struct ClaimedJobs: Hashable, Sendable {
    public var jobs: [Job]
    public var more: Bool
    /// When the claim found fewer than it asked for because ready jobs' submitters were at
    /// `max_running_per_user`: the claim's time. Those jobs wait for a run to end, not for a
    /// timer; only jobs due after this time need one.
    public var passedOverAt: Timestamp?

    public init(jobs: [Job], more: Bool, passedOverAt: Timestamp? = nil) {
        self.jobs = jobs
        self.more = more
        self.passedOverAt = passedOverAt
    }
}

/// What a lease took: the jobs, now `running` under the lease, and, when it found fewer than
/// it asked for, the earliest `run_at` of the queue's delayed jobs (when a waiting consumer
/// should look again).
public struct LeasedJobs: Hashable, Sendable {
    public var jobs: [Job]
    public var nextRunAt: Timestamp?
    /// The outcome of each lease the request completed first.
    public var completed: [Result<CompletedLease, JobStoreError>] = []
    /// Why nothing was leased after the completions (a queue of commands).
    public var refusal: JobStoreError?

    public init(jobs: [Job], nextRunAt: Timestamp?, completed: [Result<CompletedLease, JobStoreError>] = [], refusal: JobStoreError? = nil) {
        self.jobs = jobs
        self.nextRunAt = nextRunAt
        self.completed = completed
        self.refusal = refusal
    }
}

/// How a lease ended without success (a consumer's fail, or its expiry): the job is queued for
/// another attempt, or failed for good (with the jobs that ran after it).
public enum LeaseEnding: Hashable, Sendable {
    case requeued(Job)
    case failed(FinishedJob)

    public var job: Job {
        switch self {
        case .requeued(let job): job
        case .failed(let finished): finished.job
        }
    }
}

/// What the expiry timer's pass did: the leases it ended, and when the next one ends.
public struct ExpiredLeases: Hashable, Sendable {
    public var ended: [LeaseEnding]
    public var nextExpiry: Timestamp?

    public init(ended: [LeaseEnding], nextExpiry: Timestamp?) {
        self.ended = ended
        self.nextExpiry = nextExpiry
    }
}

/// A lease's completion: the job (succeeded) and the jobs it unblocked; `repeated` when the
/// lease had been completed before with the same token, and nothing changed.
public struct CompletedLease: Hashable, Sendable {
    public var finished: FinishedJob
    public var repeated: Bool

    public init(finished: FinishedJob, repeated: Bool) {
        self.finished = finished
        self.repeated = repeated
    }
}
