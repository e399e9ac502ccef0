import JobModel
import JobRunner

/// What happens to the engine: each input is handed to ``EngineState`` (with the time), which
/// answers with the ``EngineAction``s to carry out. Inputs come from the engine's API (a submit, a cancel, a
/// pause…) and from the effects it started (a claim that returned, a run that ended, a
/// record that committed, a timer).
enum EngineInput: Sendable {
    /// Start-up recovery is done: these queues exist (configured, with jobs, or paused); those
    /// of `payloadQueues` serve consumers; the earliest lease held ends at `leaseExpiry`.
    case started(queues: [String], paused: Set<String>, payloadQueues: Set<String> = [], leaseExpiry: Timestamp? = nil)
    /// Ready work may have arrived in these queues (a submit, a retry, a dependency that
    /// succeeded, a resume): their claims start again.
    case workArrived(queues: Set<String>)
    /// Jobs waiting on others became `queued`, in queues not known here: every queue claims again.
    case dependentsReady
    /// A claim of `queue` returned these jobs (`running` in the store), asked for `limit`;
    /// `more`: whether the queue still had a ready job after it; `passedOverAt`: the claim's
    /// time when it left ready jobs whose submitters were at `max_running_per_user`.
    case claimed(queue: String, jobs: [Job], limit: Int, more: Bool = true, passedOverAt: Timestamp? = nil)
    /// A claim of `queue` failed; the next one is tried at `retryAt`.
    case claimFailed(queue: String, retryAt: Timestamp)
    /// After a claim that emptied the queue: its earliest future `run_at`, if any.
    case nextRunAt(queue: String, Timestamp?)
    /// A run ended with `outcome`, having used `usage`. `abandoned` when the engine's own task
    /// was cancelled (not a drain): nothing is recorded, the next start requeues the job.
    case runEnded(JobID, JobOutcome, usage: RunUsage? = nil, abandoned: Bool)
    /// The outcome of a run is durable, or failed to be written.
    case recorded(JobID)
    /// A release of claimed jobs (or of a run the drain stopped) committed, or failed (the
    /// next start requeues what it did not).
    case releaseEnded
    /// The end of a stopped run is in the job's history, or failed to be written.
    case stoppedRunKept
    /// A user's cancel committed; the job was `previousState` before it.
    case cancelled(JobID, queue: String, previousState: JobState)
    /// The other nodes of a shared store took this one for dead and requeued its running jobs:
    /// every run is stopped, and only kept in its job's history (its record would be refused).
    case runsLost
    /// A pause or resume committed.
    case paused(String)
    case resumed(String)
    /// The queue's concurrency changed.
    case concurrencyChanged(String, Int)
    /// Graceful shutdown: no more claims; running jobs may go on until `graceDeadline`.
    case drain(graceDeadline: Timestamp)
    /// The engine's timer fired: queues sleeping until a `run_at`, the drain's grace, or the
    /// earliest lease's end may be due.
    case tick
    /// These queues serve consumers (their first job carried a payload): nothing is claimed
    /// from them for jobqd's workers.
    case consumersServe(Set<String>)
    /// A consumer holds a lease until this time (granted or extended).
    case leaseHeld(until: Timestamp)
    /// The expiry timer's pass committed (or failed: `next` is then when to try again); `next`
    /// is when the earliest lease left ends.
    case leasesExpired(next: Timestamp?)
}

/// What ``EngineState`` decides: the effects the engine's actor carries out.
enum EngineAction: Equatable, Sendable {
    /// Claim up to `limit` ready jobs of the queue.
    case claim(queue: String, limit: Int)
    /// Look up the queue's earliest `run_at` (it had nothing ready), of the jobs due after
    /// `after` when given (those due by then wait for a run to end: their submitters are at
    /// their cap).
    case findNextRunAt(queue: String, after: Timestamp? = nil)
    /// Start the job's command.
    case run(Job)
    /// Stop the job's command (SIGTERM to its group, the grace, SIGKILL).
    case stop(JobID)
    /// Record the run's outcome (success, a retry, or a failure) and what it used; the job
    /// carries the run's `startedAt`.
    case record(Job, JobOutcome, usage: RunUsage? = nil)
    /// Put claimed jobs that never started (or a run stopped by the drain) back to `queued`,
    /// without counting the attempt.
    case release([Job])
    /// Keep the end of a run that a cancel or the drain stopped in the job's history, with what
    /// it used (its job's state is the cancel's or the release's to write).
    case keepStoppedRun(Job, JobCompletion, usage: RunUsage?)
    /// The earliest deadline changed: the timer must wait for ``EngineState/nextDeadline``.
    case rearmTimer
    /// The drain is done: nothing runs, nothing is being recorded; the engine stops.
    case finishDrain
    /// End the leases whose time is up (each a failed attempt), and say when the next ends.
    case expireLeases
}
