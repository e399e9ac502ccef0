import CSQLite
import Foundation
import JobModel
import JobStoring

extension JobStore {
    // MARK: Insert

    /// Stores `specs` as new jobs, all or none, and returns once they are durable.
    ///
    /// - A spec whose idempotency key is held by a live job (queued, blocked, running), in the
    ///   store or earlier in this batch, creates nothing: that job is returned with
    ///   `created == false`.
    /// - A spec with `after` dependencies is `blocked` until they have all succeeded; one that
    ///   runs after a job that already failed or was cancelled is stored as `failed`, naming it.
    /// - Throws ``JobStoreError/invalidSpec(index:_:)`` or
    ///   ``JobStoreError/dependencyNotFound(index:_:)`` without storing anything.
    public func insert(_ specs: [JobSpec]) async throws(JobStoreError) -> [SubmittedJob] {
        try await awaiting { insert(specs, completion: $0) }
    }

    /// ``insert(_:)`` for a caller that is not a task: `completion` is called once, on the
    /// writer's thread after the commit (or on the caller's, for a spec refused before any write).
    public func insert(_ specs: [JobSpec], completion: @escaping @Sendable (Result<[SubmittedJob], JobStoreError>) -> Void) {
        for (index, spec) in specs.enumerated() {
            do {
                try spec.validate()
            } catch {
                completion(.failure(.invalidSpec(index: specs.count == 1 ? nil : index, error)))
                return
            }
        }
        if specs.isEmpty { return completion(.success([])) }
        enqueueWrite({ context throws(JobStoreError) in try context.insertSubmitted(specs) }, completion: completion)
    }

    // MARK: Claim, finish, retry

    /// Claims up to `limit` ready jobs of `queue` (queued, `run_at` reached), highest priority
    /// first, then as `policy` orders them (FIFO: earliest `run_at`, then lowest id; round-robin:
    /// each submitter in turn), in one transaction: each becomes `running` with one more attempt
    /// and its output paths set. Returns them in that order.
    public func claim(queue: String, limit: Int = 1, policy: ClaimPolicy = .fifo) async throws(JobStoreError) -> [Job] {
        try await awaiting { done in claim(queue: queue, limit: limit, policy: policy) { done($0.map(\.jobs)) } }
    }

    /// ``claim(queue:limit:policy:)`` with a completion handler, called on the writer's thread;
    /// it also says whether a ready job was left, and whether some were passed over for a cap.
    public func claim(
        queue: String, limit: Int = 1, policy: ClaimPolicy = .fifo,
        completion done: @escaping @Sendable (Result<ClaimedJobs, JobStoreError>) -> Void
    ) {
        guard limit > 0 else { return done(.success(ClaimedJobs(jobs: [], more: true))) }
        // Without an fsync of its own (see `WriteOperation.synced`): a claim that a power cut
        // undoes leaves the jobs queued, which is what recovery would make of them anyway.
        enqueueWrite(synced: false) { context throws(JobStoreError) in
            try context.claimReady(queue: queue, limit: limit, policy: policy, now: context.clock())
        } completion: { done($0) }
    }

    /// Keeps the end of a run that was stopped (by a cancel, or by the daemon's drain, which
    /// requeued the job) in `job`'s history, with what it used, and makes that usage the job's
    /// last run's. The job's state is not touched: the cancel or the release wrote it. Nothing
    /// is written for a job pruned meanwhile.
    public func keepStoppedRun(
        of job: Job, _ end: JobCompletion, usage: RunUsage?, completion done: @escaping @Sendable (Result<Void, JobStoreError>) -> Void
    ) {
        enqueueWrite({ context throws(JobStoreError) in
            var exitCode: Int32?, signal: Int32?, reason: String?
            if case .failed(let code, let sig, let why) = end { (exitCode, signal, reason) = (code, sig, why) }
            try context.withStatement("""
                INSERT OR REPLACE INTO job_run_history
                    (job_id, run, started_at, finished_at, exit_code, signal, error, cpu_user_us, cpu_system_us, max_rss_kib)
                SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 WHERE EXISTS (SELECT 1 FROM jobs WHERE id = ?1)
                """) { statement throws(SQLiteError) in
                try statement.bind(1, job.id.rawValue)
                try statement.bind(2, Int64(job.runs))
                try statement.bind(3, job.startedAt?.millisecondsSinceEpoch)
                try statement.bind(4, context.clock().millisecondsSinceEpoch)
                try statement.bind(5, exitCode.map(Int64.init))
                try statement.bind(6, signal.map(Int64.init))
                try statement.bind(7, reason)
                try context.bind(usage, from: 8, to: statement)
                try statement.run()
            }
            guard usage != nil else { return }
            try context.withStatement("UPDATE jobs SET cpu_user_us = ?2, cpu_system_us = ?3, max_rss_kib = ?4 WHERE id = ?1") {
                statement throws(SQLiteError) in
                try statement.bind(1, job.id.rawValue)
                try context.bind(usage, from: 2, to: statement)
                try statement.run()
            }
        }, completion: done)
    }

    /// Records how a running job ended, for good: `succeeded`, or `failed` when it has no
    /// attempt left (use ``scheduleRetry(_:at:exitCode:signal:reason:)`` otherwise). Success
    /// unblocks the jobs waiting on this one; failure fails them, naming this job.
    ///
    /// Throws ``JobStoreError/illegalTransition(_:from:to:)`` when the job is not running (for
    /// example, it was cancelled meanwhile) and ``JobStoreError/notFound(_:)``.
    ///
    /// `startedAt`, when given, is when the job's command started, which replaces the claim's
    /// time in `started_at` (a claimed job may wait in its queue for a free worker). `usage` is
    /// what the run used; the run's end goes into the job's history (``runHistory(of:)``).
    /// `spec`, when the caller knows the job's spec (the engine does), is not read back.
    public func finish(
        _ id: JobID, _ completion: JobCompletion, startedAt: Timestamp? = nil, usage: RunUsage? = nil, spec: JobSpec? = nil
    ) async throws(JobStoreError) -> FinishedJob {
        try await awaiting { finish(id, completion, startedAt: startedAt, usage: usage, spec: spec, completion: $0) }
    }

    /// ``finish(_:_:startedAt:usage:spec:)`` with a completion handler, called on the writer's thread.
    public func finish(
        _ id: JobID, _ completion: JobCompletion, startedAt: Timestamp? = nil, usage: RunUsage? = nil, spec: JobSpec? = nil,
        completion done: @escaping @Sendable (Result<FinishedJob, JobStoreError>) -> Void
    ) {
        enqueueWrite { context throws(JobStoreError) in
            let now = context.clock()
            let target: JobState
            let exitCode: Int32?, signal: Int32?, reason: String?
            switch completion {
            case .succeeded:
                (target, exitCode, signal, reason) = (.succeeded, 0, nil, nil)
            case let .failed(code, sig, why):
                (target, exitCode, signal, reason) = (.failed, code, sig, why)
            }
            let job = try context.updateRunning(id, to: target, spec: spec, set: """
                state = ?2, finished_at = ?3, updated_at = ?3, exit_code = ?4, signal = ?5, error = ?6,
                started_at = coalesce(?7, started_at), cpu_user_us = ?8, cpu_system_us = ?9, max_rss_kib = ?10
                """) { statement throws(SQLiteError) in
                try statement.bind(2, target.rawValue)
                try statement.bind(3, now.millisecondsSinceEpoch)
                try statement.bind(4, exitCode.map(Int64.init))
                try statement.bind(5, signal.map(Int64.init))
                try statement.bind(6, reason)
                try statement.bind(7, startedAt?.millisecondsSinceEpoch)
                try context.bind(usage, from: 8, to: statement)
            }
            try context.recordRunEnd(of: job, at: now, usage: usage)
            let settled = try context.settleDependents(of: id, finishedAs: target, now: now)
            return FinishedJob(job: job, unblocked: settled.unblocked, failedDependents: settled.failed)
        } completion: { done($0) }
    }

    /// Puts a running job whose attempt failed back to `queued`, to run again at `runAt`,
    /// recording why the attempt failed. The caller decides that an attempt is left
    /// (``Job/hasAttemptsLeft``) and computes `runAt` from the job's backoff. `startedAt`,
    /// `usage` and `spec` as in ``finish(_:_:startedAt:usage:spec:)``.
    public func scheduleRetry(
        _ id: JobID, at runAt: Timestamp, exitCode: Int32? = nil, signal: Int32? = nil, reason: String,
        startedAt: Timestamp? = nil, usage: RunUsage? = nil, spec: JobSpec? = nil
    ) async throws(JobStoreError) -> Job {
        try await awaiting {
            scheduleRetry(id, at: runAt, exitCode: exitCode, signal: signal, reason: reason, startedAt: startedAt, usage: usage,
                          spec: spec, completion: $0)
        }
    }

    /// ``scheduleRetry(_:at:exitCode:signal:reason:startedAt:usage:spec:)`` with a completion
    /// handler, called on the writer's thread.
    public func scheduleRetry(
        _ id: JobID, at runAt: Timestamp, exitCode: Int32? = nil, signal: Int32? = nil, reason: String,
        startedAt: Timestamp? = nil, usage: RunUsage? = nil, spec: JobSpec? = nil,
        completion done: @escaping @Sendable (Result<Job, JobStoreError>) -> Void
    ) {
        enqueueWrite { context throws(JobStoreError) in
            let now = context.clock()
            let job = try context.updateRunning(id, to: .queued, spec: spec, set: """
                state = 'queued', run_at = ?2, updated_at = ?3, exit_code = ?4, signal = ?5, error = ?6,
                started_at = coalesce(?7, started_at), cpu_user_us = ?8, cpu_system_us = ?9, max_rss_kib = ?10
                """) { statement throws(SQLiteError) in
                try statement.bind(2, runAt.millisecondsSinceEpoch)
                try statement.bind(3, now.millisecondsSinceEpoch)
                try statement.bind(4, exitCode.map(Int64.init))
                try statement.bind(5, signal.map(Int64.init))
                try statement.bind(6, reason)
                try statement.bind(7, startedAt?.millisecondsSinceEpoch)
                try context.bind(usage, from: 8, to: statement)
            }
            try context.recordRunEnd(of: job, at: now, usage: usage)
            return job
        } completion: { done($0) }
    }

    /// Gives back a claimed job that never started (the daemon is draining): it is `queued`
    /// again, in its old place, and the claim does not count as an attempt. `spec` as in
    /// ``finish(_:_:startedAt:spec:)``.
    public func release(_ id: JobID, spec: JobSpec? = nil) async throws(JobStoreError) -> Job {
        try await awaiting { release(id, spec: spec, completion: $0) }
    }

    /// ``release(_:spec:)`` with a completion handler, called on the writer's thread.
    public func release(_ id: JobID, spec: JobSpec? = nil, completion done: @escaping @Sendable (Result<Job, JobStoreError>) -> Void) {
        enqueueWrite { context throws(JobStoreError) in
            let now = context.clock()
            return try context.updateRunning(id, to: .queued, spec: spec, set: """
                state = 'queued', attempts = max(0, attempts - 1), updated_at = ?2,
                started_at = NULL, stdout_path = NULL, stderr_path = NULL
                """) { statement throws(SQLiteError) in
                try statement.bind(2, now.millisecondsSinceEpoch)
            }
        } completion: { done($0) }
    }

    // MARK: Cancel and retry by hand

    /// Cancels a queued, blocked or running job (a running one's process is the caller's to
    /// stop: see ``CancelledJob/previousState``). Jobs waiting on it fail, naming it.
    public func cancel(_ id: JobID, reason: String = "cancelled") async throws(JobStoreError) -> CancelledJob {
        try await write { context throws(JobStoreError) in
            let now = context.clock()
            guard let previous = try context.state(of: id) else { throw .notFound(id) }
            guard previous.canTransition(to: .cancelled) else {
                throw .illegalTransition(id, from: previous, to: .cancelled)
            }
            guard let job = try context.jobs("""
                UPDATE jobs SET state = 'cancelled', finished_at = ?2, updated_at = ?2, error = ?3,
                    pending_deps = 0, lease_expires_at = NULL
                WHERE id = ?1
                RETURNING \(jobColumns)
                """, bind: { statement throws(SQLiteError) in
                try statement.bind(1, id.rawValue)
                try statement.bind(2, now.millisecondsSinceEpoch)
                try statement.bind(3, reason)
            }).first else {
                throw .notFound(id)
            }
            let settled = try context.settleDependents(of: id, finishedAs: .cancelled, now: now)
            return CancelledJob(job: job, previousState: previous, failedDependents: settled.failed)
        }
    }

    /// Queues a failed or cancelled job again, from its first attempt. It is `blocked` when a
    /// job it runs after has not succeeded yet; refused with ``JobStoreError/conflict(_:_:)``
    /// when one of them has failed or been cancelled (retry that one first), or when a live job
    /// now holds its idempotency key.
    public func requeue(_ id: JobID) async throws(JobStoreError) -> Job {
        try await write { context throws(JobStoreError) in
            let now = context.clock()
            guard let previous = try context.state(of: id) else { throw .notFound(id) }
            guard previous == .failed || previous == .cancelled else {
                throw .illegalTransition(id, from: previous, to: .queued)
            }
            var pending = 0
            for (dependency, state) in try context.dependencyStates(of: id) {
                switch state {
                case .succeeded: continue
                case .failed, .cancelled:
                    throw .conflict(id, "it runs after job \(dependency), which is \(state); retry that one first")
                case .queued, .blocked, .running: pending += 1
                }
            }
            let jobs: [Job]
            do throws(JobStoreError) {
                jobs = try context.jobs("""
                    UPDATE jobs SET state = ?2, pending_deps = ?3, attempts = 0, run_at = ?4, updated_at = ?4,
                        started_at = NULL, finished_at = NULL, exit_code = NULL, signal = NULL, error = NULL,
                        result = NULL
                    WHERE id = ?1
                    RETURNING \(jobColumns)
                    """) { statement throws(SQLiteError) in
                    try statement.bind(1, id.rawValue)
                    try statement.bind(2, pending > 0 ? JobState.blocked.rawValue : JobState.queued.rawValue)
                    try statement.bind(3, pending)
                    try statement.bind(4, now.millisecondsSinceEpoch)
                }
            } catch .storage(let error) where error.isUniqueViolation {
                throw .conflict(id, "a live job already holds its idempotency key")
            }
            guard let job = jobs.first else { throw .notFound(id) }
            return job
        }
    }

    // MARK: Queues

    /// Records that the queue is paused (`true`) or not (`false`), durably: the engine reads
    /// it back at start-up, so that a paused queue stays paused across a restart.
    public func setPaused(_ queue: String, _ paused: Bool) async throws(JobStoreError) {
        try await write { context throws(JobStoreError) in
            if paused {
                try context.withStatement("""
                    INSERT INTO paused_queues (queue, paused_at) VALUES (?1, ?2) ON CONFLICT (queue) DO NOTHING
                    """) { statement throws(SQLiteError) in
                    try statement.bind(1, queue)
                    try statement.bind(2, context.clock().millisecondsSinceEpoch)
                    _ = try statement.step()
                }
            } else {
                try context.withStatement("DELETE FROM paused_queues WHERE queue = ?1") { statement throws(SQLiteError) in
                    try statement.bind(1, queue)
                    _ = try statement.step()
                }
            }
        }
    }

    // MARK: Recovery and pruning

    /// At start-up: jobs left `running` by a daemon that died go back to `queued` (at least
    /// once: they run again), in their old place; payload jobs under lease keep their lease
    /// (their consumers may still be at work), which the expiry timer ends if it runs out. The interrupted attempt moves from `attempts`
    /// to `interrupted` and is named in their `error`. Returns their ids.
    public func recoverInterruptedJobs() async throws(JobStoreError) -> [JobID] {
        try await write { context throws(JobStoreError) in
            let now = context.clock()
            return try context.withStatement("""
                UPDATE jobs SET state = 'queued', updated_at = ?1,
                    attempts = max(attempts - 1, 0), interrupted = interrupted + 1,
                    error = 'attempt ' || attempts || ' was interrupted: jobqd stopped or crashed while it ran'
                WHERE state = 'running' AND lease_expires_at IS NULL
                RETURNING id
                """) { statement throws(SQLiteError) in
                try statement.bind(1, now.millisecondsSinceEpoch)
                var ids: [JobID] = []
                while try statement.step() { ids.append(JobID(statement.int64(0))) }
                return ids.sorted()
            }
        }
    }

    /// Deletes up to `limit` terminal jobs that finished before `cutoff`, in one transaction,
    /// and returns them (with their output paths, for the caller to delete the files).
    public func pruneBatch(finishedBefore cutoff: Timestamp, limit: Int = 1000) async throws(JobStoreError) -> [PrunedJob] {
        guard limit > 0 else { return [] }
        return try await write { context throws(JobStoreError) in
            try context.withStatement("""
                DELETE FROM jobs WHERE id IN (
                    SELECT id FROM jobs INDEXED BY jobs_finished
                    WHERE state IN ('succeeded', 'failed', 'cancelled') AND finished_at < ?1
                    LIMIT ?2)
                RETURNING id, stdout_path, stderr_path, runs
                """) { statement throws(SQLiteError) in
                try statement.bind(1, cutoff.millisecondsSinceEpoch)
                try statement.bind(2, limit)
                var pruned: [PrunedJob] = []
                while try statement.step() {
                    pruned.append(PrunedJob(
                        id: JobID(statement.int64(0)), stdoutPath: statement.optionalText(1),
                        stderrPath: statement.optionalText(2), runs: Int(statement.int64(3))))
                }
                return pruned.sorted { $0.id < $1.id }
            }
        }
    }

    /// Deletes every terminal job that finished before `cutoff`, `batchSize` at a time (each
    /// batch its own short transaction, so that other writes are never held up for long).
    /// `onBatch` sees each batch (to delete output files) before the next is deleted. Returns
    /// how many were deleted.
    public func prune(
        finishedBefore cutoff: Timestamp, batchSize: Int = 1000,
        onBatch: ([PrunedJob]) async -> Void = { _ in }
    ) async throws(JobStoreError) -> Int {
        try await StoreRules.prune(batchSize: batchSize, onBatch: onBatch) { () async throws(JobStoreError) in
            try await pruneBatch(finishedBefore: cutoff, limit: batchSize)
        }
    }
}
