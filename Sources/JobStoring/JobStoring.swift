import JobModel

/// The durable store of jobs as the engine and the API use it, whatever the database under it.
///
/// Every write returns (or calls back) only after its transaction has committed with the
/// store's durability; a refused write changes nothing and says why with a ``JobStoreError``.
/// The engine's hot path (submit, claim, record) takes completion handlers, so that an outcome
/// reaches the engine from the store's own thread without a hop through the cooperative pool;
/// everything else is `async`.
public protocol JobStoring: AnyObject, Sendable {
    // MARK: Submitting and running

    /// Stores a batch of specs, all or nothing; a spec whose idempotency key a live job holds
    /// answers that job instead (`created == false`).
    func insert(_ specs: [JobSpec], completion: @escaping @Sendable (Result<[SubmittedJob], JobStoreError>) -> Void)
    /// Moves up to `limit` of the queue's ready jobs to `running`, picked as `policy` says.
    func claim(
        queue: String, limit: Int, policy: ClaimPolicy,
        completion: @escaping @Sendable (Result<ClaimedJobs, JobStoreError>) -> Void)
    /// The earliest `run_at` after `instant` of the queue's queued jobs (when to claim again).
    func nextRunAt(
        queue: String, after instant: Timestamp, completion: @escaping @Sendable (Result<Timestamp?, JobStoreError>) -> Void)
    /// Records a run's end as its job's outcome, settling the jobs that run after it. `run`,
    /// when given, is the run that ended (`Job.runs` at its claim): a store several nodes share
    /// refuses the record when the job has run again since.
    func finish(
        _ id: JobID, _ completion: JobCompletion, startedAt: Timestamp?, usage: RunUsage?, spec: JobSpec?, run: Int?,
        completion done: @escaping @Sendable (Result<FinishedJob, JobStoreError>) -> Void)
    /// Records a failed run and queues the job for another attempt at `runAt`.
    func scheduleRetry(
        _ id: JobID, at runAt: Timestamp, exitCode: Int32?, signal: Int32?, reason: String,
        startedAt: Timestamp?, usage: RunUsage?, spec: JobSpec?, run: Int?,
        completion done: @escaping @Sendable (Result<Job, JobStoreError>) -> Void)
    /// Puts a running job back in its queue without counting the attempt (a drain's stop).
    func release(_ id: JobID, spec: JobSpec?, run: Int?, completion done: @escaping @Sendable (Result<Job, JobStoreError>) -> Void)
    /// Keeps a run that was stopped (cancelled, drained) in its job's history.
    func keepStoppedRun(
        of job: Job, _ end: JobCompletion, usage: RunUsage?, completion done: @escaping @Sendable (Result<Void, JobStoreError>) -> Void)
    /// Requeues the jobs a previous daemon left running (their attempt counts) and answers them.
    func recoverInterruptedJobs() async throws(JobStoreError) -> [JobID]

    // MARK: Changing jobs and queues

    /// Cancels a job that has not finished, failing the jobs that run after it.
    func cancel(_ id: JobID, reason: String) async throws(JobStoreError) -> CancelledJob
    /// Queues a failed or cancelled job again as a new job run.
    func requeue(_ id: JobID) async throws(JobStoreError) -> Job
    /// Changes a job's priority while it waits.
    func setPriority(_ id: JobID, _ priority: Int) async throws(JobStoreError) -> Job
    /// Pauses or resumes a queue (kept across restarts).
    func setPaused(_ queue: String, _ paused: Bool) async throws(JobStoreError)
    /// Stores a queue's concurrency (kept across restarts, over the configuration's).
    func setWorkers(_ queue: String, _ workers: Int) async throws(JobStoreError)
    /// Deletes finished jobs older than `cutoff` in batches, handing each batch (with its
    /// output files) to `onBatch`; answers how many were deleted.
    func prune(
        finishedBefore cutoff: Timestamp, batchSize: Int, onBatch: ([PrunedJob]) async -> Void
    ) async throws(JobStoreError) -> Int

    // MARK: Leases

    /// Completes `completing`, then leases up to `limit` ready payload jobs of the queue.
    func lease(
        queue: String, limit: Int, for duration: Duration, consumer: String,
        completing: [(token: LeaseToken, result: JSONValue?)]
    ) async throws(JobStoreError) -> LeasedJobs
    /// Extends a held lease.
    func heartbeat(_ token: LeaseToken, for duration: Duration) async throws(JobStoreError) -> Job
    /// Completes a leased job (again: answers the first completion, changing nothing).
    func complete(_ token: LeaseToken, result: JSONValue?) async throws(JobStoreError) -> CompletedLease
    /// Completes many leases in one transaction, each with its own outcome.
    func complete(
        _ items: [(token: LeaseToken, result: JSONValue?)]
    ) async throws(JobStoreError) -> [Result<CompletedLease, JobStoreError>]
    /// Ends a lease as a failed attempt: retried per the job's policy, or failed.
    func fail(_ token: LeaseToken, reason: String) async throws(JobStoreError) -> LeaseEnding
    /// Gives a leased job back to its queue without counting the attempt.
    func release(_ token: LeaseToken, delay: Duration) async throws(JobStoreError) -> Job
    /// Ends the leases that have expired as failed attempts.
    func expireLeases(completion done: @escaping @Sendable (Result<ExpiredLeases, JobStoreError>) -> Void)
    /// When the earliest held lease expires.
    func nextLeaseExpiry() async throws(JobStoreError) -> Timestamp?

    // MARK: Reading

    /// One job, or `nil` when there is none with this id.
    func job(_ id: JobID) async throws(JobStoreError) -> Job?
    /// Those of `ids` whose jobs are in a terminal state.
    func terminal(among ids: [JobID]) async throws(JobStoreError) -> [JobID]
    /// Every run of a job, oldest first (`nil`: no such job).
    func runHistory(of id: JobID) async throws(JobStoreError) -> [RunRecord]?
    /// A page of the jobs `filter` selects, in id order, after `cursor`.
    func jobs(matching filter: JobFilter, after cursor: JobID?, limit: Int, order: ListOrder) async throws(JobStoreError) -> JobPage
    /// Every queue's jobs counted by state.
    func counts() async throws(JobStoreError) -> [QueueCounts]
    /// The queues paused now.
    func pausedQueues() async throws(JobStoreError) -> [String]
    /// The concurrency stored for each queue with `setWorkers`.
    func storedWorkers() async throws(JobStoreError) -> [String: Int]
    /// The queues whose jobs are payloads for consumers.
    func payloadQueues() async throws(JobStoreError) -> Set<String>
    /// The nodes that share the store, by name (`nil`: the store has one daemon, no nodes).
    func nodes() async throws(JobStoreError) -> [NodeInfo]?
    /// Counters of the store's writes since it opened.
    var statistics: StoreStatistics { get }

    /// Lets queued writes commit, refuses new ones, and closes the connections.
    func close() async
}

extension JobStoring {
    /// Those of `ids` whose jobs are in a terminal state, read one by one (a store with a
    /// cheaper way says so in its own).
    public func terminal(among ids: [JobID]) async throws(JobStoreError) -> [JobID] {
        var finished: [JobID] = []
        for id in ids {
            if let job = try await job(id), job.state.isTerminal { finished.append(id) }
        }
        return finished
    }
}
