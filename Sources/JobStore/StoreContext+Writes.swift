import CSQLite
import JobModel
import JobStoring

/// The statements several writes share: inserts, counts, dependencies.
extension StoreContext {
    /// Stores submitted specs (validated) in this transaction: see ``JobStore/insert(_:)``.
    func insertSubmitted(_ specs: [JobSpec]) throws(JobStoreError) -> [SubmittedJob] {
        try settleQueueKinds(specs)
        let now = clock()
        var submitted: [SubmittedJob] = []
        submitted.reserveCapacity(specs.count)
        var added: [QueueState: Int] = [:]
        // Specs with no idempotency key and no dependency need no look-up: each run of them
        // is stored by multi-row INSERTs, in order (twice the rows/s of one INSERT per row).
        var plainStart: Int?
        func storePlain(upTo end: Int) throws(JobStoreError) {
            guard let start = plainStart else { return }
            plainStart = nil
            for job in try insertQueued(specs[start..<end], now: now) {
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
            let result = try insert(spec, index: specs.count == 1 ? nil : index, now: now)
            if result.created { added[QueueState(queue: spec.queue, state: result.job.state), default: 0] += 1 }
            submitted.append(result)
        }
        try storePlain(upTo: specs.count)
        try addToCounts(added)
        return submitted
    }

    func insert(_ spec: JobSpec, index: Int?, now: Timestamp) throws(JobStoreError) -> SubmittedJob {
        if let key = spec.idempotencyKey, let existing = try jobs("""
            SELECT \(jobColumns) FROM jobs
            WHERE idempotency_key = ?1 AND state IN ('queued', 'blocked', 'running')
            """, bind: { statement throws(SQLiteError) in try statement.bind(1, key) }).first {
            return SubmittedJob(job: existing, created: false)
        }
        var dependencies: [(JobID, JobState?)] = []
        for dependency in Set(spec.after).sorted() { dependencies.append((dependency, try state(of: dependency))) }
        let (state, pending, error) = try StoreRules.newJob(after: dependencies, index: index)
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
