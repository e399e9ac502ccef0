import CSQLite
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
}

/// What `finish` did: the job as it is now, and what happened to the jobs that run after it
/// (queued once all their dependencies succeeded, or failed down the chain).
public struct FinishedJob: Hashable, Sendable {
    public var job: Job
    /// Jobs that became `queued` because this one succeeded.
    public var unblocked: [JobID]
    /// Jobs that failed because this one (or a job failed by it) failed.
    public var failedDependents: [JobID]
}

/// Dependents changed by a job reaching a terminal state.
struct DependentsSettled {
    var unblocked: [JobID] = []
    var failed: [JobID] = []
}

/// A queue and a state: a key of `job_counts`.
struct QueueState: Hashable {
    var queue: String
    var state: JobState
}

/// A job removed by pruning, with the output files the caller may now delete.
public struct PrunedJob: Hashable, Sendable {
    public var id: JobID
    public var stdoutPath: String?
    public var stderrPath: String?
}

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
        for (index, spec) in specs.enumerated() {
            do {
                try spec.validate()
            } catch {
                throw .invalidSpec(index: index, error)
            }
        }
        if specs.isEmpty { return [] }
        return try await write { context throws(JobStoreError) in
            let now = context.clock()
            var submitted: [SubmittedJob] = []
            submitted.reserveCapacity(specs.count)
            var added: [QueueState: Int] = [:]
            // Specs with no idempotency key and no dependency need no look-up: each run of them
            // is stored by multi-row INSERTs, in order (twice the rows/s of one INSERT per row).
            var plainStart: Int?
            func storePlain(upTo end: Int) throws(JobStoreError) {
                guard let start = plainStart else { return }
                plainStart = nil
                for job in try context.insertQueued(specs[start..<end], now: now) {
                    added[QueueState(queue: job.spec.queue, state: .queued), default: 0] += 1
                    submitted.append(SubmittedJob(job: job, created: true))
                }
            }
            for (index, spec) in specs.enumerated() {
                if spec.idempotencyKey == nil && spec.after.isEmpty {
                    if plainStart == nil { plainStart = index }
                    continue
                }
                try storePlain(upTo: index)
                let result = try context.insert(spec, index: index, now: now)
                if result.created { added[QueueState(queue: spec.queue, state: result.job.state), default: 0] += 1 }
                submitted.append(result)
            }
            try storePlain(upTo: specs.count)
            try context.addToCounts(added)
            return submitted
        }
    }

    // MARK: Claim, finish, retry

    /// Claims up to `limit` ready jobs of `queue` (queued, `run_at` reached), highest priority
    /// first, then earliest `run_at`, then lowest id, in one atomic statement: each becomes
    /// `running` with one more attempt and its output paths set. Returns them in that order.
    public func claim(queue: String, limit: Int = 1) async throws(JobStoreError) -> [Job] {
        guard limit > 0 else { return [] }
        // Without an fsync of its own (see `WriteOperation.synced`): a claim that a power cut
        // undoes leaves the jobs queued, which is what recovery would make of them anyway.
        return try await write(synced: false) { context throws(JobStoreError) in
            let now = context.clock()
            // INDEXED BY: the walk down jobs_ready is what keeps a claim O(log n) in the backlog;
            // if the planner ever preferred another index, the statement fails instead of sorting.
            var claimed = try context.jobs("""
                UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ?1,
                    updated_at = ?1, finished_at = NULL, exit_code = NULL, signal = NULL, error = NULL,
                    stdout_path = ?3 || '/' || id || '.out', stderr_path = ?3 || '/' || id || '.err'
                WHERE id IN (
                    SELECT id FROM jobs INDEXED BY jobs_ready
                    WHERE state = 'queued' AND queue = ?2 AND run_at <= ?1
                    ORDER BY priority DESC, run_at, id
                    LIMIT ?4)
                RETURNING \(jobColumns)
                """) { statement throws(SQLiteError) in
                try statement.bind(1, now.millisecondsSinceEpoch)
                try statement.bind(2, queue)
                try statement.bind(3, context.logDirectory)
                try statement.bind(4, limit)
            }
            if claimed.count > 1 {
                // RETURNING gives rows in no promised order.
                claimed.sort { a, b in
                    if a.spec.priority != b.spec.priority { return a.spec.priority > b.spec.priority }
                    return a.runAt != b.runAt ? a.runAt < b.runAt : a.id < b.id
                }
            }
            return claimed
        }
    }

    /// Records how a running job ended, for good: `succeeded`, or `failed` when it has no
    /// attempt left (use ``scheduleRetry(_:at:exitCode:signal:reason:)`` otherwise). Success
    /// unblocks the jobs waiting on this one; failure fails them, naming this job.
    ///
    /// Throws ``JobStoreError/illegalTransition(_:from:to:)`` when the job is not running (for
    /// example, it was cancelled meanwhile) and ``JobStoreError/notFound(_:)``.
    ///
    /// `startedAt`, when given, is when the job's command started, which replaces the claim's
    /// time in `started_at` (a claimed job may wait in its queue for a free worker).
    public func finish(
        _ id: JobID, _ completion: JobCompletion, startedAt: Timestamp? = nil
    ) async throws(JobStoreError) -> FinishedJob {
        try await write { context throws(JobStoreError) in
            let now = context.clock()
            let target: JobState
            let exitCode: Int32?, signal: Int32?, reason: String?
            switch completion {
            case .succeeded:
                (target, exitCode, signal, reason) = (.succeeded, 0, nil, nil)
            case let .failed(code, sig, why):
                (target, exitCode, signal, reason) = (.failed, code, sig, why)
            }
            let job = try context.updateRunning(id, to: target, set: """
                state = ?2, finished_at = ?3, updated_at = ?3, exit_code = ?4, signal = ?5, error = ?6,
                started_at = coalesce(?7, started_at)
                """) { statement throws(SQLiteError) in
                try statement.bind(2, target.rawValue)
                try statement.bind(3, now.millisecondsSinceEpoch)
                try statement.bind(4, exitCode.map(Int64.init))
                try statement.bind(5, signal.map(Int64.init))
                try statement.bind(6, reason)
                try statement.bind(7, startedAt?.millisecondsSinceEpoch)
            }
            let settled = try context.settleDependents(of: id, finishedAs: target, now: now)
            return FinishedJob(job: job, unblocked: settled.unblocked, failedDependents: settled.failed)
        }
    }

    /// Puts a running job whose attempt failed back to `queued`, to run again at `runAt`,
    /// recording why the attempt failed. The caller decides that an attempt is left
    /// (``Job/hasAttemptsLeft``) and computes `runAt` from the job's backoff. `startedAt` as
    /// in ``finish(_:_:startedAt:)``.
    public func scheduleRetry(
        _ id: JobID, at runAt: Timestamp, exitCode: Int32? = nil, signal: Int32? = nil, reason: String,
        startedAt: Timestamp? = nil
    ) async throws(JobStoreError) -> Job {
        try await write { context throws(JobStoreError) in
            let now = context.clock()
            return try context.updateRunning(id, to: .queued, set: """
                state = 'queued', run_at = ?2, updated_at = ?3, exit_code = ?4, signal = ?5, error = ?6,
                started_at = coalesce(?7, started_at)
                """) { statement throws(SQLiteError) in
                try statement.bind(2, runAt.millisecondsSinceEpoch)
                try statement.bind(3, now.millisecondsSinceEpoch)
                try statement.bind(4, exitCode.map(Int64.init))
                try statement.bind(5, signal.map(Int64.init))
                try statement.bind(6, reason)
                try statement.bind(7, startedAt?.millisecondsSinceEpoch)
            }
        }
    }

    /// Gives back a claimed job that never started (the daemon is draining): it is `queued`
    /// again, in its old place, and the claim does not count as an attempt.
    public func release(_ id: JobID) async throws(JobStoreError) -> Job {
        try await write { context throws(JobStoreError) in
            let now = context.clock()
            return try context.updateRunning(id, to: .queued, set: """
                state = 'queued', attempts = max(0, attempts - 1), updated_at = ?2,
                started_at = NULL, stdout_path = NULL, stderr_path = NULL
                """) { statement throws(SQLiteError) in
                try statement.bind(2, now.millisecondsSinceEpoch)
            }
        }
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
                    pending_deps = 0
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
                        started_at = NULL, finished_at = NULL, exit_code = NULL, signal = NULL, error = NULL
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
    /// once: they run again), in their old place, with the interrupted attempt recorded in
    /// their `error`. Returns their ids.
    public func recoverInterruptedJobs() async throws(JobStoreError) -> [JobID] {
        try await write { context throws(JobStoreError) in
            let now = context.clock()
            return try context.withStatement("""
                UPDATE jobs SET state = 'queued', updated_at = ?1,
                    error = 'attempt ' || attempts || ' was interrupted: jobqd stopped while it ran'
                WHERE state = 'running'
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
                RETURNING id, stdout_path, stderr_path
                """) { statement throws(SQLiteError) in
                try statement.bind(1, cutoff.millisecondsSinceEpoch)
                try statement.bind(2, limit)
                var pruned: [PrunedJob] = []
                while try statement.step() {
                    pruned.append(PrunedJob(
                        id: JobID(statement.int64(0)), stdoutPath: statement.optionalText(1),
                        stderrPath: statement.optionalText(2)))
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
        var total = 0
        while true {
            let batch = try await pruneBatch(finishedBefore: cutoff, limit: batchSize)
            if batch.isEmpty { return total }
            await onBatch(batch)
            total += batch.count
            if batch.count < batchSize { return total }
        }
    }
}

// MARK: - Statements shared by several writes

extension StoreContext {
    func insert(_ spec: JobSpec, index: Int, now: Timestamp) throws(JobStoreError) -> SubmittedJob {
        if let key = spec.idempotencyKey, let existing = try jobs("""
            SELECT \(jobColumns) FROM jobs
            WHERE idempotency_key = ?1 AND state IN ('queued', 'blocked', 'running')
            """, bind: { statement throws(SQLiteError) in try statement.bind(1, key) }).first {
            return SubmittedJob(job: existing, created: false)
        }
        var pending: [JobID] = []
        var failedDependency: (JobID, JobState)?
        for dependency in Set(spec.after).sorted() {
            guard let state = try state(of: dependency) else {
                throw .dependencyNotFound(index: index, dependency)
            }
            switch state {
            case .succeeded: continue
            case .failed, .cancelled: failedDependency = failedDependency ?? (dependency, state)
            case .queued, .blocked, .running: pending.append(dependency)
            }
        }
        let state: JobState
        var error: String?
        if let (dependency, dependencyState) = failedDependency {
            state = .failed
            error = "job \(dependency), which this job runs after, \(dependencyState == .failed ? "failed" : "was cancelled")"
        } else {
            state = pending.isEmpty ? .queued : .blocked
        }
        let specJSON = spec.compactJSON
        let runAt = spec.runAt ?? now
        try withStatement("""
            INSERT INTO jobs (state, queue, priority, run_at, spec, idempotency_key, label, submitter_uid,
                              max_attempts, pending_deps, created_at, updated_at, finished_at, error)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?13)
            """) { statement throws(SQLiteError) in
            try statement.bind(1, state.rawValue)
            try statement.bind(2, spec.queue)
            try statement.bind(3, spec.priority)
            try statement.bind(4, runAt.millisecondsSinceEpoch)
            try statement.bind(5, specJSON)
            try statement.bind(6, spec.idempotencyKey)
            try statement.bind(7, spec.label)
            try statement.bind(8, spec.submitterUID.map(Int64.init))
            try statement.bind(9, spec.retry.maxAttempts)
            try statement.bind(10, pending.count)
            try statement.bind(11, now.millisecondsSinceEpoch)
            try statement.bind(12, state == .failed ? now.millisecondsSinceEpoch : nil)
            try statement.bind(13, error)
            try statement.run()
        }
        let id = JobID(connection.lastInsertRowID)
        for dependency in pending {
            try withStatement("INSERT INTO job_dependencies (job_id, depends_on) VALUES (?1, ?2)") {
                statement throws(SQLiteError) in
                try statement.bind(1, id.rawValue)
                try statement.bind(2, dependency.rawValue)
                try statement.run()
            }
        }
        let job = Job(
            id: id, spec: spec, state: state, runAt: runAt, createdAt: now, updatedAt: now,
            finishedAt: state == .failed ? now : nil, error: error)
        return SubmittedJob(job: job, created: true)
    }

    /// Stores `specs` as new `queued` jobs (the caller has checked that none has an idempotency
    /// key or a dependency) and returns them in order.
    ///
    /// One INSERT carries up to ``rowsPerInsert`` rows: SQLite then runs one statement, and
    /// updates AUTOINCREMENT's `sqlite_sequence` once, per group rather than per row. Their ids
    /// are consecutive, ending at the last insert rowid: AUTOINCREMENT gives each new row one
    /// more than the largest id the table ever had, the rows of a VALUES list are inserted in
    /// order, and this connection is the only writer (it holds the write lock).
    func insertQueued(_ specs: ArraySlice<JobSpec>, now: Timestamp) throws(JobStoreError) -> [Job] {
        var jobs: [Job] = []
        jobs.reserveCapacity(specs.count)
        var next = specs.startIndex
        while next < specs.endIndex {
            // A full group, else the largest power of two that fits: few distinct statements to cache.
            let left = specs.endIndex - next
            let size = left >= Self.rowsPerInsert ? Self.rowsPerInsert : 1 << (Int.bitWidth - 1 - left.leadingZeroBitCount)
            let group = specs[next..<(next + size)]
            try withStatement(Self.insertQueuedSQL[size.trailingZeroBitCount]) { statement throws(SQLiteError) in
                try statement.bind(1, now.millisecondsSinceEpoch)
                var parameter: Int32 = 2
                for spec in group {
                    try statement.bind(parameter, spec.queue)
                    try statement.bind(parameter + 1, spec.priority)
                    try statement.bind(parameter + 2, (spec.runAt ?? now).millisecondsSinceEpoch)
                    try statement.bind(parameter + 3, spec.compactJSON)
                    try statement.bind(parameter + 4, spec.label)
                    try statement.bind(parameter + 5, spec.submitterUID.map(Int64.init))
                    try statement.bind(parameter + 6, spec.retry.maxAttempts)
                    parameter += Self.parametersPerRow
                }
                try statement.run()
            }
            guard connection.changes == size else {
                throw .storage(SQLiteError(extendedCode: SQLITE_INTERNAL,
                                           message: "an insert of \(size) jobs stored \(connection.changes)"))
            }
            var id = connection.lastInsertRowID - Int64(size)
            for spec in group {
                id += 1
                let runAt = spec.runAt ?? now
                jobs.append(Job(id: JobID(id), spec: spec, state: .queued, runAt: runAt, createdAt: now, updatedAt: now))
            }
            next += size
        }
        return jobs
    }

    /// Rows per multi-row INSERT (7 parameters each, far below SQLite's 32,766); a power of two.
    static let rowsPerInsert = 64
    private static let parametersPerRow: Int32 = 7
    /// The INSERTs of 1, 2, 4, … ``rowsPerInsert`` rows, by the power of two.
    private static let insertQueuedSQL = (0...rowsPerInsert.trailingZeroBitCount).map { insertQueuedSQL(rows: 1 << $0) }

    /// `INSERT INTO jobs … VALUES (…), (…), …` for `rows` queued jobs; ?1 is the time.
    private static func insertQueuedSQL(rows: Int) -> String {
        var sql = "INSERT INTO jobs (state, queue, priority, run_at, spec, label, submitter_uid, max_attempts, created_at, updated_at) VALUES "
        for row in 0..<rows {
            let first = 2 + row * Int(parametersPerRow)
            if row > 0 { sql += ", " }
            sql += "('queued', ?\(first), ?\(first + 1), ?\(first + 2), ?\(first + 3), ?\(first + 4), ?\(first + 5), ?\(first + 6), ?1, ?1)"
        }
        return sql
    }

    /// Adds newly inserted rows to `job_counts` (migration 0003 replaced the per-row insert
    /// trigger with this: one upsert per queue and state per insert call).
    func addToCounts(_ added: [QueueState: Int]) throws(JobStoreError) {
        for (key, count) in added {
            try withStatement("""
                INSERT INTO job_counts (queue, state, n) VALUES (?1, ?2, ?3)
                ON CONFLICT (queue, state) DO UPDATE SET n = n + excluded.n
                """) { statement throws(SQLiteError) in
                try statement.bind(1, key.queue)
                try statement.bind(2, key.state.rawValue)
                try statement.bind(3, count)
                try statement.run()
            }
        }
    }

    /// The jobs `id` runs after, with their states.
    func dependencyStates(of id: JobID) throws(JobStoreError) -> [(JobID, JobState)] {
        try withStatement("""
            SELECT d.depends_on, j.state FROM job_dependencies d JOIN jobs j ON j.id = d.depends_on
            WHERE d.job_id = ?1 ORDER BY d.depends_on
            """) { statement throws(SQLiteError) in
            try statement.bind(1, id.rawValue)
            var result: [(JobID, JobState)] = []
            while try statement.step() {
                if let state = JobState(rawValue: statement.text(1)) {
                    result.append((JobID(statement.int64(0)), state))
                }
            }
            return result
        }
    }

    /// After `id` reached a terminal state: on success, each blocked job waiting on it has one
    /// dependency fewer and becomes `queued` at zero; on failure or cancellation, the blocked
    /// jobs waiting on it fail, and so on down the chain.
    func settleDependents(of id: JobID, finishedAs state: JobState, now: Timestamp) throws(JobStoreError) -> DependentsSettled {
        var settled = DependentsSettled()
        if state == .succeeded {
            settled.unblocked = try withStatement("""
                UPDATE jobs SET pending_deps = pending_deps - 1, updated_at = ?2,
                    state = CASE WHEN pending_deps <= 1 THEN 'queued' ELSE 'blocked' END
                WHERE state = 'blocked'
                  AND id IN (SELECT job_id FROM job_dependencies WHERE depends_on = ?1)
                RETURNING id, state
                """) { statement throws(SQLiteError) in
                try statement.bind(1, id.rawValue)
                try statement.bind(2, now.millisecondsSinceEpoch)
                var ids: [JobID] = []
                while try statement.step() {
                    if statement.text(1) == JobState.queued.rawValue { ids.append(JobID(statement.int64(0))) }
                }
                return ids.sorted()
            }
            return settled
        }
        var frontier: [(JobID, String)] = [(id, state == .cancelled ? "was cancelled" : "failed")]
        while let (failed, how) = frontier.popLast() {
            let reason = "job \(failed), which this job runs after, \(how)"
            let dependents = try withStatement("""
                UPDATE jobs SET state = 'failed', pending_deps = 0, finished_at = ?2, updated_at = ?2, error = ?3
                WHERE state = 'blocked'
                  AND id IN (SELECT job_id FROM job_dependencies WHERE depends_on = ?1)
                RETURNING id
                """) { statement throws(SQLiteError) in
                try statement.bind(1, failed.rawValue)
                try statement.bind(2, now.millisecondsSinceEpoch)
                try statement.bind(3, reason)
                var ids: [JobID] = []
                while try statement.step() { ids.append(JobID(statement.int64(0))) }
                return ids
            }
            settled.failed += dependents
            frontier.append(contentsOf: dependents.map { ($0, "failed") })
        }
        settled.failed.sort()
        return settled
    }
}
