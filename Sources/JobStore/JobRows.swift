import CSQLite
import Foundation
import JobModel
import JobStoring

/// The columns every job query selects, in the order `StoreContext.job(from:)` reads them.
let jobColumns = """
    id, state, spec, attempts, created_at, updated_at, started_at, finished_at, \
    exit_code, signal, error, stdout_path, stderr_path, run_at, interrupted, runs, \
    lease_expires_at, consumer, result, cpu_user_us, cpu_system_us, max_rss_kib
    """

/// `jobColumns` without the spec (a `NULL` in its place), for a caller that knows it.
let jobColumnsWithoutSpec = jobColumns.replacingOccurrences(of: "spec,", with: "NULL,")

extension StoreContext {
    /// Decodes the current row of a statement that selected `jobColumns`, or
    /// `jobColumnsWithoutSpec` with the spec given.
    func job(from row: Statement, spec known: JobSpec? = nil) throws(JobStoreError) -> Job {
        let id = JobID(row.int64(0))
        guard let state = JobState(rawValue: row.text(1)) else {
            throw .storage(SQLiteError(extendedCode: SQLITE_CORRUPT, message: "job \(id) has an unknown state '\(row.text(1))'"))
        }
        let spec: JobSpec
        if let known {
            spec = known
        } else if let read = row.withBytes(2, BodyReader.spec) {
            spec = read
        } else {
            do {
                spec = try decoder.decode(JobSpec.self, from: row.data(2))
            } catch {
                throw .storage(SQLiteError(extendedCode: SQLITE_CORRUPT, message: "job \(id) has an unreadable spec: \(error)"))
            }
        }
        var job = Job(
            id: id,
            spec: spec,
            state: state,
            attempts: Int(row.int64(3)),
            createdAt: Timestamp(millisecondsSinceEpoch: row.int64(4)),
            updatedAt: Timestamp(millisecondsSinceEpoch: row.int64(5)),
            startedAt: row.optionalInt64(6).map(Timestamp.init(millisecondsSinceEpoch:)),
            finishedAt: row.optionalInt64(7).map(Timestamp.init(millisecondsSinceEpoch:)),
            exitCode: row.optionalInt64(8).map { Int32(truncatingIfNeeded: $0) },
            signal: row.optionalInt64(9).map { Int32(truncatingIfNeeded: $0) },
            error: row.optionalText(10),
            stdoutPath: row.optionalText(11),
            stderrPath: row.optionalText(12)
        )
        job.runAt = Timestamp(millisecondsSinceEpoch: row.int64(13))
        job.interruptedAttempts = Int(row.int64(14))
        job.runs = Int(row.int64(15))
        job.consumer = row.optionalText(17)
        if state == .running, let consumer = job.consumer, let expiry = row.optionalInt64(16) {
            job.lease = Lease(token: LeaseToken(job: id, run: job.runs), consumer: consumer,
                              expiresAt: Timestamp(millisecondsSinceEpoch: expiry))
        }
        if let result = row.optionalText(18) {
            do {
                job.result = try decoder.decode(JSONValue.self, from: Data(result.utf8))
            } catch {
                throw .storage(SQLiteError(extendedCode: SQLITE_CORRUPT, message: "job \(id) has an unreadable result: \(error)"))
            }
        }
        job.usage = usage(in: row, from: 19)
        return job
    }

    /// The ``RunUsage`` in columns `first` (user CPU, µs), `first + 1` (system CPU, µs) and
    /// `first + 2` (largest resident set, KiB), when they hold one.
    func usage(in row: Statement, from first: Int32) -> RunUsage? {
        guard let user = row.optionalInt64(first), let system = row.optionalInt64(first + 1),
              let resident = row.optionalInt64(first + 2) else { return nil }
        return RunUsage(userCPU: .microseconds(user), systemCPU: .microseconds(system), maxResidentBytes: resident * 1024)
    }

    /// Binds ``RunUsage``'s three columns from parameter `first` on (`NULL`s without one).
    func bind(_ usage: RunUsage?, from first: Int32, to statement: Statement) throws(SQLiteError) {
        try statement.bind(first, usage.map { $0.userCPU.wholeMicroseconds })
        try statement.bind(first + 1, usage.map { $0.systemCPU.wholeMicroseconds })
        try statement.bind(first + 2, usage.map { $0.maxResidentBytes / 1024 })
    }

    /// Keeps the end of a run of `job` (as its row now says it ended, at `now`) in its history.
    func recordRunEnd(of job: Job, at now: Timestamp, usage: RunUsage?) throws(JobStoreError) {
        try withStatement("""
            INSERT OR REPLACE INTO job_run_history
                (job_id, run, started_at, finished_at, exit_code, signal, error, cpu_user_us, cpu_system_us, max_rss_kib)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
            """) { statement throws(SQLiteError) in
            try statement.bind(1, job.id.rawValue)
            try statement.bind(2, Int64(job.runs))
            try statement.bind(3, job.startedAt?.millisecondsSinceEpoch)
            try statement.bind(4, now.millisecondsSinceEpoch)
            try statement.bind(5, job.exitCode.map(Int64.init))
            try statement.bind(6, job.signal.map(Int64.init))
            try statement.bind(7, job.state == .succeeded ? nil : job.error)
            try bind(usage, from: 8, to: statement)
            try statement.run()
        }
    }

    /// Runs a statement that returns job rows, after `bind`, and decodes them all (with `spec`
    /// as every row's spec, when given: the statement then selects `jobColumnsWithoutSpec`).
    func jobs(
        _ sql: String, spec: JobSpec? = nil, bind: (Statement) throws(SQLiteError) -> Void
    ) throws(JobStoreError) -> [Job] {
        let rows: Result<[Job], JobStoreError> = try withStatement(sql) { statement throws(SQLiteError) in
            try bind(statement)
            var jobs: [Job] = []
            while try statement.step() {
                do throws(JobStoreError) {
                    jobs.append(try job(from: statement, spec: spec))
                } catch {
                    return .failure(error)
                }
            }
            return .success(jobs)
        }
        return try rows.get()
    }

    /// The job with this id, or `nil`.
    func job(_ id: JobID) throws(JobStoreError) -> Job? {
        try jobs("SELECT \(jobColumns) FROM jobs WHERE id = ?1") { statement throws(SQLiteError) in
            try statement.bind(1, id.rawValue)
        }.first
    }

    /// The job's state, or `nil` when there is no such job.
    func state(of id: JobID) throws(JobStoreError) -> JobState? {
        try withStatement("SELECT state FROM jobs WHERE id = ?1") { statement throws(SQLiteError) in
            try statement.bind(1, id.rawValue)
            return try statement.step() ? JobState(rawValue: statement.text(0)) : nil
        }
    }

    /// Applies `set` (a fixed SQL assignment list; `?1` is the id, `bind` binds the rest) to
    /// the job if it is running, and returns the job as it is now (its spec not read back when
    /// the caller gives it). Throws the refusal (no such job, or the state it is in) when it
    /// was not running: then nothing changed.
    func updateRunning(
        _ id: JobID, to target: JobState, spec: JobSpec? = nil, set assignments: String,
        bind: (Statement) throws(SQLiteError) -> Void
    ) throws(JobStoreError) -> Job {
        let columns = spec == nil ? jobColumns : jobColumnsWithoutSpec
        let sql = "UPDATE jobs SET \(assignments) WHERE id = ?1 AND state = 'running' RETURNING \(columns)"
        guard let job = try jobs(sql, spec: spec, bind: { statement throws(SQLiteError) in
            try statement.bind(1, id.rawValue)
            try bind(statement)
        }).first else {
            throw try refusal(id, to: target)
        }
        return job
    }

    /// The error for an operation that found no job in the state it needed.
    func refusal(_ id: JobID, to target: JobState) throws(JobStoreError) -> JobStoreError {
        guard let state = try state(of: id) else { return .notFound(id) }
        return .illegalTransition(id, from: state, to: target)
    }
}
