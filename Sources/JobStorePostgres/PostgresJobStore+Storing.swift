import JobModel
import JobStoring

/// The engine's hot-path operations with completion handlers: each is handed to the store's
/// `run()`, which carries it out in a child task and calls the handler there. A run's end is
/// recorded after its output is stored (``storeOutput(of:)``).
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
            return try await self.finish(id, completion, startedAt: startedAt, usage: usage, spec: spec, run: run)
        }, completion: done)
    }

    public func scheduleRetry(
        _ id: JobID, at runAt: Timestamp, exitCode: Int32?, signal: Int32?, reason: String,
        startedAt: Timestamp?, usage: RunUsage?, spec: JobSpec?, run: Int?,
        completion done: @escaping @Sendable (Result<Job, JobStoreError>) -> Void
    ) {
        enqueue({ () async throws(JobStoreError) in
            await self.storeOutput(of: id)
            return try await self.scheduleRetry(id, at: runAt, exitCode: exitCode, signal: signal, reason: reason,
                                                startedAt: startedAt, usage: usage, spec: spec, run: run)
        }, completion: done)
    }

    public func release(_ id: JobID, spec: JobSpec?, run: Int?, completion done: @escaping @Sendable (Result<Job, JobStoreError>) -> Void) {
        enqueue({ () async throws(JobStoreError) in
            await self.storeOutput(of: id)
            return try await self.release(id, spec: spec, run: run)
        }, completion: done)
    }

    public func keepStoppedRun(
        of job: Job, _ end: JobCompletion, usage: RunUsage?, completion done: @escaping @Sendable (Result<Void, JobStoreError>) -> Void
    ) {
        enqueue({ () async throws(JobStoreError) in
            await self.storeOutput(of: job.id)
            try await self.keepStoppedRun(of: job, end, usage: usage)
        }, completion: done)
    }

    public func expireLeases(completion done: @escaping @Sendable (Result<ExpiredLeases, JobStoreError>) -> Void) {
        enqueue({ () async throws(JobStoreError) in try await self.expireLeases() }, completion: done)
    }
}
