import JobModel
import JobRunner

/// What happens to the engine: each input is handed to ``EngineState`` (with the time), which
/// answers with the ``EngineAction``s to carry out. Inputs come from the engine's API (a submit, a cancel, a
/// pause…) and from the effects it started (a claim that returned, a run that ended, a
/// record that committed, a timer).
enum EngineInput: Sendable {
    /// Start-up recovery is done: these queues exist (configured, with jobs, or paused).
    case started(queues: [String], paused: Set<String>)
    /// Ready work may have arrived in these queues (a submit, a retry, a dependency that
    /// succeeded, a resume): their claims start again.
    case workArrived(queues: Set<String>)
    /// Jobs waiting on others became `queued`, in queues not known here: every queue claims again.
    case dependentsReady
    /// A claim of `queue` returned these jobs (`running` in the store), asked for `limit`;
    /// `more`: whether the queue still had a ready job after it.
    case claimed(queue: String, jobs: [Job], limit: Int, more: Bool = true)
    /// A claim of `queue` failed; the next one is tried at `retryAt`.
    case claimFailed(queue: String, retryAt: Timestamp)
    /// After a claim that emptied the queue: its earliest future `run_at`, if any.
    case nextRunAt(queue: String, Timestamp?)
    /// A run ended with `outcome`. `abandoned` when the engine's own task was cancelled (not a
    /// drain): nothing is recorded, the next start requeues the job.
    case runEnded(JobID, JobOutcome, abandoned: Bool)
    /// The outcome of a run is durable, or failed to be written.
    case recorded(JobID)
    /// A release of claimed jobs (or of a run the drain stopped) committed, or failed (the
    /// next start requeues what it did not).
    case releaseEnded
    /// A user's cancel committed; the job was `previousState` before it.
    case cancelled(JobID, queue: String, previousState: JobState)
    /// A pause or resume committed.
    case paused(String)
    case resumed(String)
    /// The queue's concurrency changed.
    case concurrencyChanged(String, Int)
    /// Graceful shutdown: no more claims; running jobs may go on until `graceDeadline`.
    case drain(graceDeadline: Timestamp)
    /// The engine's timer fired: queues sleeping until a `run_at`, or the drain's grace, may be due.
    case tick
}

/// What ``EngineState`` decides: the effects the engine's actor carries out.
enum EngineAction: Equatable, Sendable {
    /// Claim up to `limit` ready jobs of the queue.
    case claim(queue: String, limit: Int)
    /// Look up the queue's earliest future `run_at` (it had nothing ready).
    case findNextRunAt(queue: String)
    /// Start the job's command.
    case run(Job)
    /// Stop the job's command (SIGTERM to its group, the grace, SIGKILL).
    case stop(JobID)
    /// Record the run's outcome (success, a retry, or a failure); the job carries the run's
    /// `startedAt`.
    case record(Job, JobOutcome)
    /// Put claimed jobs that never started (or a run stopped by the drain) back to `queued`,
    /// without counting the attempt.
    case release([Job])
    /// The earliest deadline changed: the timer must wait for ``EngineState/nextDeadline``.
    case rearmTimer
    /// The drain is done: nothing runs, nothing is being recorded; the engine stops.
    case finishDrain
}
