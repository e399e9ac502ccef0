import JobModel
import JobStoring
import Logging
import PostgresNIO

/// One transaction of the PostgreSQL store: its connection, and the statements several
/// operations share (job rows, refusals, dependents, run history), as the SQLite store's
/// `StoreContext` holds them.
struct PostgresTransaction {
    let connection: PostgresConnection
    let logger: Logger
    /// The node whose store runs the transaction.
    let node: String

    /// Runs a statement that returns ``jobColumns`` and decodes every row.
    func jobs(_ query: PostgresQuery) async throws -> [Job] {
        var jobs: [Job] = []
        for row in try await connection.rows(query, logger: logger) { jobs.append(try PostgresJobRows.job(from: row)) }
        return jobs
    }

    /// Runs a statement and reads its answer to the end.
    func run(_ query: PostgresQuery) async throws {
        try await connection.run(query, logger: logger)
    }

    /// The first column of every row, decoded as `T`.
    func values<T: PostgresDecodable & Sendable>(_ query: PostgresQuery, as type: T.Type) async throws -> [T] {
        var values: [T] = []
        for value in try await connection.rows(query, logger: logger).decoded(T.self) { values.append(value) }
        return values
    }

    /// A job's state, or nil when there is no such job.
    func state(of id: JobID) async throws -> JobState? {
        try await values("SELECT state FROM jobs WHERE id = \(id.rawValue)", as: String.self).first.flatMap(JobState.init(rawValue:))
    }

    /// The error for an operation that found no job in the state it needed.
    func refusal(_ id: JobID, to target: JobState) async throws -> JobStoreError {
        guard let state = try await state(of: id) else { return .notFound(id) }
        return .illegalTransition(id, from: state, to: target)
    }

    /// The job after an update that matched at most one row, or the refusal when none matched.
    func updated(_ id: JobID, to target: JobState, _ query: PostgresQuery) async throws -> Job {
        guard let job = try await jobs(query).first else { throw try await refusal(id, to: target) }
        return job
    }

    /// ``updated(_:to:_:)`` for the record of a run on this node: a job running on another
    /// node is refused as such (this node lost it: its heartbeat lapsed and the job ran again
    /// elsewhere), never recorded over.
    func recorded(_ id: JobID, to target: JobState, _ query: PostgresQuery) async throws -> Job {
        if let job = try await jobs(query).first { return job }
        throw try await refusalOfRecord(id, to: target)
    }

    /// Why a record of a run of `id` on this node matched no row (see ``recorded(_:to:_:)``).
    func refusalOfRecord(_ id: JobID, to target: JobState) async throws -> JobStoreError {
        for (name, owner) in try await connection.rows(
            "SELECT state, node FROM jobs WHERE id = \(id.rawValue)", logger: logger
        ).decoded((String, String?).self) {
            let state = JobState(rawValue: name) ?? .queued
            if state == .running, let owner, owner != node {
                return .conflict(id, "it runs on node \(owner), not on \(node): this node lost it, and its run here is not recorded")
            }
            if state == .running, owner == node {
                return .conflict(id, "node \(node) ran it before it lost its jobs (or restarted); that run is not recorded")
            }
            return .illegalTransition(id, from: state, to: target)
        }
        return .notFound(id)
    }

    /// After `id` reached a terminal state: on success, each blocked job waiting on it has one
    /// dependency fewer and becomes `queued` at zero; on failure or cancellation, the blocked
    /// jobs waiting on it fail, and so on down the chain (`jobq_settle_dependents`, in
    /// migrations/postgresql/0002_store_functions.sql).
    func settleDependents(of id: JobID, finishedAs state: JobState, now: Timestamp) async throws -> DependentsSettled {
        var settled = DependentsSettled()
        for (unblocked, failed) in try await connection.rows("""
            SELECT * FROM jobq_settle_dependents(\(id.rawValue), \(state == .succeeded), \(Self.how(state)), \(now.millisecondsSinceEpoch))
            """, logger: logger).decoded(([Int64], [Int64]).self) {
            settled = DependentsSettled(unblocked: unblocked.map { JobID($0) }, failed: failed.map { JobID($0) })
        }
        return settled
    }

    /// How a job that did not succeed ended, as its dependents' errors say it.
    static func how(_ state: JobState) -> String {
        state == .cancelled ? "was cancelled" : "failed"
    }

    /// Settles the dependents of jobs that all succeeded, in one statement: each blocked
    /// dependent waits for as many jobs fewer, and is queued once it waits for none. Answers
    /// those it queued.
    func unblockDependents(of ids: [JobID], now: Timestamp) async throws -> [JobID] {
        let time = now.millisecondsSinceEpoch
        return try await connection.rows("""
            UPDATE jobs SET pending_deps = pending_deps - d.n, updated_at = \(time),
                state = CASE WHEN pending_deps <= d.n THEN 'queued' ELSE 'blocked' END
            FROM (SELECT job_id, count(*)::integer AS n FROM job_dependencies
                  WHERE depends_on = ANY(\(ids.map(\.rawValue))::bigint[]) GROUP BY job_id) d
            WHERE jobs.state = 'blocked' AND jobs.id = d.job_id
            RETURNING jobs.id, jobs.state
            """, logger: logger).decoded((Int64, String).self)
            .filter { $0.1 == JobState.queued.rawValue }.map { JobID($0.0) }.sorted()
    }

    /// A common table expression `history` that keeps the end of the run a preceding
    /// expression `done` records (its rows as ``jobColumns`` and `updated_at` the end) in the
    /// job's history, by the node of the session.
    static let historyOfDone = """
        history AS (
            INSERT INTO job_run_history
                (job_id, run, started_at, finished_at, exit_code, signal, error, cpu_user_us, cpu_system_us, max_rss_kib, node)
            SELECT id, runs, started_at, updated_at, exit_code, signal, CASE WHEN state = 'succeeded' THEN NULL ELSE error END,
                   cpu_user_us, cpu_system_us, max_rss_kib, current_setting('jobq.node')
            FROM done
            ON CONFLICT (job_id, run) DO UPDATE SET started_at = excluded.started_at, finished_at = excluded.finished_at,
                exit_code = excluded.exit_code, signal = excluded.signal, error = excluded.error,
                cpu_user_us = excluded.cpu_user_us, cpu_system_us = excluded.cpu_system_us,
                max_rss_kib = excluded.max_rss_kib, node = excluded.node
        )
        """

    /// The jobs `id` runs after, with their states.
    func dependencyStates(of id: JobID) async throws -> [(JobID, JobState)] {
        var result: [(JobID, JobState)] = []
        for (dependency, name) in try await connection.rows("""
            SELECT d.depends_on, j.state FROM job_dependencies d JOIN jobs j ON j.id = d.depends_on
            WHERE d.job_id = \(id.rawValue) ORDER BY d.depends_on
            """, logger: logger).decoded((Int64, String).self) {
            if let state = JobState(rawValue: name) { result.append((JobID(dependency), state)) }
        }
        return result
    }
}

/// Dependents changed by a job reaching a terminal state.
struct DependentsSettled {
    var unblocked: [JobID] = []
    var failed: [JobID] = []
}
