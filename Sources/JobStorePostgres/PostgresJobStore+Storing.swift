import JobModel
import JobStoring
import Logging

/// The engine's hot-path operations with completion handlers: each is handed to the store's
/// `run()`, which carries it out in a child task and calls the handler there. A run's end is
/// recorded after its output is stored (``storeOutput(of:)``), and tried again while the
/// database cannot be reached (``whileReachable(_:)``).
extension PostgresJobStore: JobStoring {
    public func insert(_ specs: [JobSpec], completion: @escaping @Sendable (Result<[SubmittedJob], JobStoreError>) -> Void) {
        enqueue({ () async throws(JobStoreError) in try await self.insert(specs) }, completion: completion)
    }

    public func claim(
        queue: String, limit: Int, policy: ClaimPolicy, completion: @escaping @Sendable (Result<ClaimedJobs, JobStoreError>) -> Void
    ) {
        enqueue({ () async throws(JobStoreError) in try await self.claim(queue: queue, limit: limit, policy: policy) },
                completion: completion)
    }

    public func nextRunAt(
        queue: String, after instant: Timestamp, completion: @escaping @Sendable (Result<Timestamp?, JobStoreError>) -> Void
    ) {
        enqueue({ () async throws(JobStoreError) in try await self.nextRunAt(queue: queue, after: instant) }, completion: completion)
    }

    public func finish(
        _ id: JobID, _ completion: JobCompletion, startedAt: Timestamp?, usage: RunUsage?, spec: JobSpec?, run: Int?,
        completion done: @escaping @Sendable (Result<FinishedJob, JobStoreError>) -> Void
    ) {
        enqueue({ () async throws(JobStoreError) in
            await self.storeOutput(of: id)
            return try await self.whileReachable { () async throws(JobStoreError) in
                try await self.finish(id, completion, startedAt: startedAt, usage: usage, spec: spec, run: run)
            }
        }, completion: done)
    }

    public func scheduleRetry(
        _ id: JobID, at runAt: Timestamp, exitCode: Int32?, signal: Int32?, reason: String,
        startedAt: Timestamp?, usage: RunUsage?, spec: JobSpec?, run: Int?,
        completion done: @escaping @Sendable (Result<Job, JobStoreError>) -> Void
    ) {
        enqueue({ () async throws(JobStoreError) in
            await self.storeOutput(of: id)
            return try await self.whileReachable { () async throws(JobStoreError) in
                try await self.scheduleRetry(id, at: runAt, exitCode: exitCode, signal: signal, reason: reason,
                                             startedAt: startedAt, usage: usage, spec: spec, run: run)
            }
        }, completion: done)
    }

    public func release(_ id: JobID, spec: JobSpec?, run: Int?, completion done: @escaping @Sendable (Result<Job, JobStoreError>) -> Void) {
        enqueue({ () async throws(JobStoreError) in
            await self.storeOutput(of: id)
            return try await self.whileReachable { () async throws(JobStoreError) in try await self.release(id, spec: spec, run: run) }
        }, completion: done)
    }

    public func keepStoppedRun(
        of job: Job, _ end: JobCompletion, usage: RunUsage?, completion done: @escaping @Sendable (Result<Void, JobStoreError>) -> Void
    ) {
        enqueue({ () async throws(JobStoreError) in
            await self.storeOutput(of: job.id)
            try await self.whileReachable { () async throws(JobStoreError) in try await self.keepStoppedRun(of: job, end, usage: usage) }
        }, completion: done)
    }

    public func expireLeases(completion done: @escaping @Sendable (Result<ExpiredLeases, JobStoreError>) -> Void) {
        enqueue({ () async throws(JobStoreError) in try await self.expireLeases() }, completion: done)
    }

    /// Runs a record of a run's end, and again while it fails because the database cannot be
    /// reached (restarting, a connection cut) or is busy, every interval of the heartbeat at
    /// most, for one heartbeat lapse at most: past that, the other nodes may have taken this
    /// node's runs, and the job stays as the database has it (``sweepOrphanedRuns`` requeues a
    /// run this node no longer holds). A record that committed before its answer was lost comes
    /// back refused, the job as it was recorded.
    func whileReachable<T: Sendable>(_ record: () async throws(JobStoreError) -> T) async throws(JobStoreError) -> T {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: heartbeat.lapse)
        var delay = Duration.milliseconds(100)
        while true {
            do {
                return try await record()
            } catch .storage(let failure) where [.unavailable, .busy].contains(failure.kind) && clock.now < deadline && !Task.isCancelled {
                logger.info("cannot record a run's end yet; trying again", metadata: ["error": "\(failure.detail)", "retry_in": "\(delay)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, heartbeat.interval)
            }
        }
    }
}
