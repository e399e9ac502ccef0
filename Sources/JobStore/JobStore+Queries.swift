import JobModel
import JobStoring

extension JobStore {
    /// The job with this id, or `nil` when there is none.
    public func job(_ id: JobID) async throws(JobStoreError) -> Job? {
        try await read { context throws(JobStoreError) in try context.job(id) }
    }

    /// The ended runs of job `id`'s command, oldest first (empty for a job that has not run,
    /// nil when there is no such job).
    public func runHistory(of id: JobID) async throws(JobStoreError) -> [RunRecord]? {
        try await read { context throws(JobStoreError) in
            guard try context.state(of: id) != nil else { return nil }
            return try context.withStatement("""
                SELECT run, started_at, finished_at, exit_code, signal, error, cpu_user_us, cpu_system_us, max_rss_kib
                FROM job_run_history WHERE job_id = ?1 ORDER BY run
                """) { statement throws(SQLiteError) in
                try statement.bind(1, id.rawValue)
                var runs: [RunRecord] = []
                while try statement.step() {
                    runs.append(RunRecord(
                        run: Int(statement.int64(0)),
                        startedAt: statement.optionalInt64(1).map(Timestamp.init(millisecondsSinceEpoch:)),
                        finishedAt: Timestamp(millisecondsSinceEpoch: statement.int64(2)),
                        exitCode: statement.optionalInt64(3).map { Int32(truncatingIfNeeded: $0) },
                        signal: statement.optionalInt64(4).map { Int32(truncatingIfNeeded: $0) },
                        error: statement.optionalText(5),
                        usage: context.usage(in: statement, from: 6)))
                }
                return runs
            }
        }
    }

    /// One page of jobs matching `filter`, in id order, starting after `cursor` (keyset
    /// pagination: stable while jobs are added, and each page costs the same however deep).
    public func jobs(
        matching filter: JobFilter = JobFilter(), after cursor: JobID? = nil,
        limit: Int = 100, order: ListOrder = .ascending
    ) async throws(JobStoreError) -> JobPage {
        let limit = max(1, min(limit, 10_000))
        var conditions: [String] = []
        // Only fixed SQL fragments are joined here; every value is a bound parameter.
        let states = filter.states.map { Array($0).sorted { $0.rawValue < $1.rawValue } } ?? []
        if filter.states != nil {
            if states.isEmpty { return JobPage(jobs: [], nextCursor: nil) }
            conditions.append("state IN (" + states.indices.map { "?\($0 + 1)" }.joined(separator: ", ") + ")")
        }
        let base = Int32(states.count)
        if filter.queue != nil { conditions.append("queue = ?\(base + 1)") }
        if filter.label != nil { conditions.append("label = ?\(base + 2)") }
        if cursor != nil { conditions.append(order == .ascending ? "id > ?\(base + 3)" : "id < ?\(base + 3)") }
        if filter.submitter != nil { conditions.append("submitter_uid = ?\(base + 5)") }
        let words = filter.commandWords
        for index in words.indices { conditions.append("instr(lower(spec), ?\(base + 8 + Int32(index))) > 0") }
        if filter.commandContains != nil {
            conditions.append("""
                instr(lower(coalesce(json_extract(spec, '$.shell'), (SELECT group_concat(value, ' ') FROM json_each(spec, '$.argv')), '')), \
                lower(?\(base + 6))) > 0
                """)
        }
        if filter.runsAfter != nil { conditions.append("id IN (SELECT job_id FROM job_dependencies WHERE depends_on = ?\(base + 7))") }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = """
            SELECT \(jobColumns) FROM jobs \(whereClause)
            ORDER BY id \(order == .ascending ? "ASC" : "DESC") LIMIT ?\(base + 4)
            """
        let queue = filter.queue, label = filter.label, submitter = filter.submitter
        let command = filter.commandContains, runsAfter = filter.runsAfter
        let jobs = try await read { context throws(JobStoreError) in
            try context.jobs(sql) { statement throws(SQLiteError) in
                for (index, state) in states.enumerated() { try statement.bind(Int32(index + 1), state.rawValue) }
                if let queue { try statement.bind(base + 1, queue) }
                if let label { try statement.bind(base + 2, label) }
                if let cursor { try statement.bind(base + 3, cursor.rawValue) }
                try statement.bind(base + 4, limit + 1)
                if let submitter { try statement.bind(base + 5, Int64(submitter)) }
                if let command { try statement.bind(base + 6, command) }
                if let runsAfter { try statement.bind(base + 7, runsAfter.rawValue) }
                for (index, word) in words.enumerated() { try statement.bind(base + 8 + Int32(index), word) }
            }
        }
        if jobs.count > limit {
            let page = Array(jobs.prefix(limit))
            return JobPage(jobs: page, nextCursor: page.last?.id)
        }
        return JobPage(jobs: jobs, nextCursor: nil)
    }

    /// Jobs per queue and state, from the counts table the triggers keep (a few rows, however
    /// large the backlog). Queues with no job are left out; sorted by queue name.
    public func counts() async throws(JobStoreError) -> [QueueCounts] {
        try await read { context throws(JobStoreError) in
            try context.withStatement("SELECT queue, state, n FROM job_counts WHERE n > 0 ORDER BY queue") {
                statement throws(SQLiteError) in
                var result: [QueueCounts] = []
                while try statement.step() {
                    let queue = statement.text(0)
                    guard let state = JobState(rawValue: statement.text(1)) else { continue }
                    if result.last?.queue != queue { result.append(QueueCounts(queue: queue, counts: [:])) }
                    result[result.count - 1].counts[state] = Int(statement.int64(2))
                }
                return result
            }
        }
    }

    /// The queues recorded as paused (``setPaused(_:_:)``), sorted by name.
    public func pausedQueues() async throws(JobStoreError) -> [String] {
        try await texts("SELECT queue FROM paused_queues ORDER BY queue")
    }

    /// The earliest `run_at` after `instant` among the queue's queued jobs: when the
    /// dispatcher's timer should fire next (`nil`: no delayed job). One index seek.
    public func nextRunAt(queue: String, after instant: Timestamp) async throws(JobStoreError) -> Timestamp? {
        try await awaiting { nextRunAt(queue: queue, after: instant, completion: $0) }
    }

    /// ``nextRunAt(queue:after:)`` with a completion handler, called on the reader's thread.
    public func nextRunAt(
        queue: String, after instant: Timestamp, completion: @escaping @Sendable (Result<Timestamp?, JobStoreError>) -> Void
    ) {
        enqueueRead({ context throws(JobStoreError) in
            try context.withStatement("""
                SELECT min(run_at) FROM jobs INDEXED BY jobs_due
                WHERE state = 'queued' AND queue = ?1 AND run_at > ?2
                """) { statement throws(SQLiteError) in
                try statement.bind(1, queue)
                try statement.bind(2, instant.millisecondsSinceEpoch)
                guard try statement.step() else { return nil }
                return statement.optionalInt64(0).map(Timestamp.init(millisecondsSinceEpoch:))
            }
        }, completion: completion)
    }

    /// Whether the queue has a job ready to claim now.
    public func hasReadyJob(queue: String) async throws(JobStoreError) -> Bool {
        try await read { context throws(JobStoreError) in
            try context.hasReadyJob(queue: queue, now: context.clock())
        }
    }

    /// `PRAGMA integrity_check`: `["ok"]` for a sound database, otherwise what is wrong.
    public func integrityCheck() async throws(JobStoreError) -> [String] {
        try await texts("PRAGMA integrity_check")
    }

    /// The first column of every row `sql` returns, as text.
    private func texts(_ sql: String) async throws(JobStoreError) -> [String] {
        try await read { context throws(JobStoreError) in
            try context.withStatement(sql) { statement throws(SQLiteError) in
                var texts: [String] = []
                while try statement.step() { texts.append(statement.text(0)) }
                return texts
            }
        }
    }

    /// No nodes: a SQLite store has one daemon.
    public func nodes() async throws(JobStoreError) -> [NodeInfo]? { nil }
}

extension StoreContext {
    /// Whether `queue` has a job ready to claim at `now` (an indexed probe, for claims and reads).
    func hasReadyJob(queue: String, now: Timestamp) throws(JobStoreError) -> Bool {
        try withStatement("""
            SELECT 1 FROM jobs INDEXED BY jobs_due
            WHERE state = 'queued' AND queue = ?1 AND run_at <= ?2 LIMIT 1
            """) { statement throws(SQLiteError) in
            try statement.bind(1, queue)
            try statement.bind(2, now.millisecondsSinceEpoch)
            return try statement.step()
        }
    }
}
