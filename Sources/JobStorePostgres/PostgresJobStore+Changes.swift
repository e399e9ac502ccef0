import JobBasics
import JobModel
import JobStoring
import PostgresNIO

/// What people change by hand: cancel, retry, priority, pause, workers, pruning.
extension PostgresJobStore {
    /// Cancels a queued, blocked or running job (a running one's process is its node's to
    /// stop); the jobs waiting on it fail, naming it.
    public func cancel(_ id: JobID, reason: String = "cancelled") async throws(JobStoreError) -> CancelledJob {
        let now = clock()
        let time = now.millisecondsSinceEpoch
        let cancelled = try await write { transaction in
            // The row locked first, so that the state checked is the state changed.
            guard let name = try await transaction.values(
                "SELECT state FROM jobs WHERE id = \(id.rawValue) FOR UPDATE", as: String.self
            ).first, let previous = JobState(rawValue: name) else { throw JobStoreError.notFound(id) }
            guard previous.canTransition(to: .cancelled) else {
                throw JobStoreError.illegalTransition(id, from: previous, to: .cancelled)
            }
            let job = try await transaction.updated(id, to: .cancelled, """
                UPDATE jobs SET state = 'cancelled', finished_at = \(time), updated_at = \(time), error = \(reason),
                    pending_deps = 0, lease_expires_at = NULL
                WHERE id = \(id.rawValue)
                RETURNING \(unescaped: jobColumns)
                """)
            let settled = try await transaction.settleDependents(of: id, finishedAs: .cancelled, now: now)
            return CancelledJob(job: job, previousState: previous, failedDependents: settled.failed)
        }
        notify([.finished([cancelled.job.id] + cancelled.failedDependents)])
        return cancelled
    }

    /// Queues a failed or cancelled job again, from its first attempt (`blocked` while a job
    /// it runs after has not succeeded; refused when one of them failed, or when a live job
    /// holds its idempotency key).
    public func requeue(_ id: JobID) async throws(JobStoreError) -> Job {
        let time = clock().millisecondsSinceEpoch
        let job = try await write { transaction in
            guard let name = try await transaction.values(
                "SELECT state FROM jobs WHERE id = \(id.rawValue) FOR UPDATE", as: String.self
            ).first, let previous = JobState(rawValue: name) else { throw JobStoreError.notFound(id) }
            guard previous == .failed || previous == .cancelled else {
                throw JobStoreError.illegalTransition(id, from: previous, to: .queued)
            }
            var pending = 0
            for (dependency, state) in try await transaction.dependencyStates(of: id) {
                switch state {
                case .succeeded: continue
                case .failed, .cancelled:
                    throw JobStoreError.conflict(id, "it runs after job \(dependency), which is \(state); retry that one first")
                case .queued, .blocked, .running: pending += 1
                }
            }
            let state = pending > 0 ? JobState.blocked : .queued
            do {
                return try await transaction.updated(id, to: .queued, """
                    UPDATE jobs SET state = \(state.rawValue), pending_deps = \(Int32(pending)), attempts = 0, run_at = \(time),
                        updated_at = \(time), started_at = NULL, finished_at = NULL, exit_code = NULL, signal = NULL,
                        error = NULL, result = NULL, node = NULL, node_incarnation = NULL
                    WHERE id = \(id.rawValue)
                    RETURNING \(unescaped: jobColumns)
                    """)
            } catch where StorageFailure(postgres: error).isUniqueViolation {
                throw JobStoreError.conflict(id, "a live job already holds its idempotency key")
            }
        }
        notifyReady(job)
        return job
    }

    /// Sets the priority of a queued or blocked job, in its row and its stored spec.
    public func setPriority(_ id: JobID, _ priority: Int) async throws(JobStoreError) -> Job {
        guard JobLimits.priority.contains(priority) else {
            throw .invalidSpec(index: nil, .invalidField(
                "priority", "must be from \(JobLimits.priority.lowerBound) to \(JobLimits.priority.upperBound)"))
        }
        let time = clock().millisecondsSinceEpoch
        return try await write { transaction in
            guard let name = try await transaction.values(
                "SELECT state FROM jobs WHERE id = \(id.rawValue) FOR UPDATE", as: String.self
            ).first, let state = JobState(rawValue: name) else { throw JobStoreError.notFound(id) }
            guard state == .queued || state == .blocked else {
                throw JobStoreError.conflict(id, state == .running
                    ? "it is running: a priority orders jobs that wait, so it no longer matters"
                    : "it has finished (\(state.rawValue)): a priority orders jobs that wait")
            }
            // The spec is JSON text as the API wrote it: jsonb would reorder it, so the field is
            // replaced within the text.
            guard let job = try await transaction.jobs("""
                SELECT \(unescaped: jobColumns) FROM jobs WHERE id = \(id.rawValue)
                """).first else { throw JobStoreError.notFound(id) }
            var spec = job.spec
            spec.priority = priority
            return try await transaction.updated(id, to: state, """
                UPDATE jobs SET priority = \(Int32(priority)), spec = \(spec.compactJSON), updated_at = \(time)
                WHERE id = \(id.rawValue)
                RETURNING \(unescaped: jobColumns)
                """)
        }
    }

    /// Records that the queue is paused or not, for every node.
    public func setPaused(_ queue: String, _ paused: Bool) async throws(JobStoreError) {
        let time = clock().millisecondsSinceEpoch
        try await write { transaction in
            if paused {
                try await transaction.run("""
                    INSERT INTO paused_queues (queue, paused_at) VALUES (\(queue), \(time)) ON CONFLICT (queue) DO NOTHING
                    """)
            } else {
                try await transaction.run("DELETE FROM paused_queues WHERE queue = \(queue)")
            }
        }
        notify([.paused(queue: queue, paused)])
    }

    /// Records a queue's number of workers, set at run time, for the next start.
    public func setWorkers(_ queue: String, _ workers: Int) async throws(JobStoreError) {
        try await write { transaction in
            try await transaction.run("""
                INSERT INTO queue_workers (queue, workers) VALUES (\(queue), \(Int32(clamping: workers)))
                ON CONFLICT (queue) DO UPDATE SET workers = excluded.workers
                """)
        }
        notify([.workers(queue: queue, workers)])
    }

    /// Deletes up to `limit` terminal jobs that finished before `cutoff`, in one transaction.
    public func pruneBatch(finishedBefore cutoff: Timestamp, limit: Int = 1000) async throws(JobStoreError) -> [PrunedJob] {
        guard limit > 0 else { return [] }
        let pruned = try await rows("""
            DELETE FROM jobs WHERE id IN (
                SELECT id FROM jobs
                WHERE state IN ('succeeded', 'failed', 'cancelled') AND finished_at < \(cutoff.millisecondsSinceEpoch)
                ORDER BY finished_at LIMIT \(Int64(limit))
                FOR UPDATE SKIP LOCKED)
            RETURNING id, stdout_path, stderr_path, runs
            """) { row in
            let (id, out, err, runs) = try row.decode((Int64, String?, String?, Int32).self)
            return PrunedJob(id: JobID(id), stdoutPath: out, stderrPath: err, runs: Int(runs))
        }
        return pruned.sorted { $0.id < $1.id }
    }

    /// Deletes every terminal job that finished before `cutoff`, `batchSize` at a time, each
    /// batch its own short transaction; `onBatch` sees each batch before the next.
    public func prune(
        finishedBefore cutoff: Timestamp, batchSize: Int = 1000, onBatch: ([PrunedJob]) async -> Void = { _ in }
    ) async throws(JobStoreError) -> Int {
        try await StoreRules.prune(batchSize: batchSize, onBatch: onBatch) { () async throws(JobStoreError) in
            try await pruneBatch(finishedBefore: cutoff, limit: batchSize)
        }
    }
}
