import JobBasics
import JobModel
import JobStoring
import Logging
import PostgresNIO
import ServiceLifecycle

/// The job store on PostgreSQL, which several jobqd (nodes) on several hosts share.
///
/// Each write is one statement (the hot ones: a submit, a claim, a run's end) or one
/// transaction on a connection of the pool, answered after its commit;
/// PostgreSQL commits concurrent transactions' WAL together, so the store needs no group commit
/// of its own. Every connection names its node in the session setting `jobq.node`, which the
/// counting triggers read (see migrations/postgresql/0001_initial.sql).
///
/// The store is a `Service`: its `run()` runs the operations callers hand in with completion
/// handlers (the engine's hot path), each in a child task of its own, over the connection pool,
/// which is a service of its own (``connectionPool``). Both must be running (in the daemon's
/// `ServiceGroup`, or ``runWithPool()`` in a test's task group) for the store to answer.
public final class PostgresJobStore: Sendable, Service {
    let client: PostgresClient
    /// Operations handed in with completion handlers, for `run()` to carry out.
    let operations: AsyncStream<@Sendable () async -> Void>
    let operationsInput: AsyncStream<@Sendable () async -> Void>.Continuation
    /// Transactions run, for `statistics`.
    let counters = Locked(StoreStatistics())
    /// This jobqd's name among the nodes.
    public let node: String
    /// The queues this node runs jobs of (`nil`: every queue), as it registers them for
    /// `jobq status`.
    let serves: [String]?
    /// Where this node's runs write their output files.
    let logDirectory: String
    let clock: @Sendable () -> Timestamp
    let logger: Logger
    /// The database, as messages name it (no secret).
    public let database: String
    /// The migrations applied when this store opened the database (empty when it was current).
    public let appliedMigrations: [String]
    /// The heartbeat's settings.
    let heartbeat: NodeHeartbeat
    /// This node's present incarnation (it grows each time the node registers: at open, and
    /// when it learns that the other nodes took it for dead).
    let incarnations: Locked<Int64>
    var incarnation: Int64 { incarnations.withLock { $0 } }
    /// When this node last beat (or registered): it judges others lapsed only while its own
    /// beats are recent, so that after an outage of the database no node takes the others,
    /// as stale as itself, for dead.
    let lastBeat: Locked<Timestamp>
    /// Where the store tells the daemon of work another node made and of runs this node lost.
    let events = Locked<(@Sendable (NodeEvent) -> Void)?>(nil)
    /// Where the store connects (the pool, and the listener's own connection).
    let configuration: PostgresStoreConfiguration
    /// Notices for the other nodes not sent yet, and the bell that wakes their sender.
    let pendingNotices = Locked(NoticeBatch())
    let noticeBell = Doorbell()
    /// Output of this node's runs on its way to `job_output`, the flush's waiters, and the bell
    /// that wakes the task that stores it.
    let outputState = Locked(OutputState())
    let outputBell = Doorbell()
    /// The runs this node's engine holds, asked at each beat (``sweepOrphanedRuns(now:)``).
    let heldRuns = Locked<(@Sendable () -> Set<JobID>)?>(nil)
    /// Followers of jobs' output, woken when output of their job is stored.
    let outputFollowers = Locked(OutputFollowers())
    /// The kinds of the queues this node has seen (true: payloads), as `queue_kinds` holds them:
    /// a queue's kind never changes once stored, so a submit to a known queue need not read it.
    let queueKinds = Locked<[String: Bool]>([:])
    /// Names this store's notices, so that its listener skips them: random, as a node's name
    /// may be shared by a node and its replacement.
    let sender = String(UInt64.random(in: .min ... .max), radix: 36)

    private init(
        client: PostgresClient, configuration: PostgresStoreConfiguration, node: String, serves: [String]?, incarnation: Int64,
        heartbeat: NodeHeartbeat, logDirectory: String, clock: @escaping @Sendable () -> Timestamp, logger: Logger,
        appliedMigrations: [String]
    ) {
        self.client = client
        self.configuration = configuration
        self.heartbeat = heartbeat
        self.incarnations = Locked(incarnation)
        self.lastBeat = Locked(clock())
        let database = configuration.description
        self.node = node
        self.serves = serves
        self.logDirectory = logDirectory.hasSuffix("/") ? String(logDirectory.dropLast()) : logDirectory
        self.clock = clock
        self.logger = logger
        self.database = database
        self.appliedMigrations = appliedMigrations
        (operations, operationsInput) = AsyncStream.makeStream()
    }

    /// Connects once (a server that cannot be reached or refuses the login is reported at
    /// once), applies the migrations the database lacks, and prepares the pool, which runs once
    /// the store's `run()` does.
    public static func open(
        _ configuration: PostgresStoreConfiguration,
        node: String,
        serves: Set<String>? = nil,
        logDirectory: String,
        heartbeat: NodeHeartbeat = NodeHeartbeat(),
        clock: @escaping @Sendable () -> Timestamp = { Timestamp.now() },
        logger: Logger = Logger(label: "jobq.store"),
        migrations: [EmbeddedMigration] = EmbeddedMigration.postgresql
    ) async throws(JobStoreError) -> PostgresJobStore {
        let connection = try await configuration.connect(logger: logger)
        let serves = serves.map { $0.sorted() }
        let applied: [String]
        let incarnation: Int64
        do {
            applied = try await PostgresMigrator(migrations: migrations, database: configuration.description, logger: logger)
                .migrate(connection, now: clock())
            incarnation = try await register(node, serving: serves, on: connection, now: clock(), logger: logger)
        } catch {
            try? await connection.close()
            throw .postgres(error)
        }
        try? await connection.close()
        var pool = configuration.clientConfiguration
        pool.options.additionalStartupParameters.append(("jobq.node", node))
        logger.info("job store open", metadata: [
            "database": "\(configuration)", "node": "\(node)", "migrations_applied": "\(applied.count)",
        ])
        return PostgresJobStore(
            client: PostgresClient(configuration: pool, backgroundLogger: logger), configuration: configuration, node: node,
            serves: serves, incarnation: incarnation, heartbeat: heartbeat, logDirectory: logDirectory, clock: clock, logger: logger,
            appliedMigrations: applied)
    }

    /// The connection pool, as a service of its own: a daemon's `ServiceGroup` lists it before
    /// the store, so that it stops after the store has finished its operations (PostgresClient
    /// stops at the graceful-shutdown signal, and a request made after that waits for ever).
    public var connectionPool: any Service { client }

    /// Runs the heartbeat, the notices to and from the other nodes, and the handed-in operations
    /// until the store is closed (``close()``, or the service group's graceful shutdown, which
    /// reaches the store after the engine has drained) or the task is cancelled. Operations
    /// already handed in finish first. The pool must be running (``connectionPool``).
    public func run() async {
        await withDiscardingTaskGroup { background in
            background.addTask { await self.beatUntilCancelled() }
            background.addTask { await self.sendNoticesUntilCancelled() }
            background.addTask { await self.listenUntilCancelled() }
            background.addTask { await self.storeOutputUntilCancelled() }
            await withGracefulShutdownHandler {
                await withDiscardingTaskGroup { running in
                    for await operation in operations {
                        running.addTask { await operation() }
                    }
                }
            } onGracefulShutdown: {
                self.operationsInput.finish()
            }
            background.cancelAll()
        }
    }

    /// ``run()`` with the connection pool beside it, stopped after it: the store on its own
    /// (tests, tools), outside a service group.
    public func runWithPool() async {
        await withDiscardingTaskGroup { pool in
            pool.addTask { await self.client.run() }
            await run()
            pool.cancelAll()
        }
    }

    /// Refuses new operations; those handed in already finish before `run()` returns.
    public func close() async {
        operationsInput.finish()
    }

    /// Transactions run since the store opened (PostgreSQL commits concurrent ones together:
    /// each is a group of one here).
    public var statistics: StoreStatistics { counters.withLock { $0 } }

    /// Hands `work` to `run()`; `completion` gets its outcome, or `closed` once the store is.
    func enqueue<T: Sendable>(
        _ work: @escaping @Sendable () async throws(JobStoreError) -> T,
        completion: @escaping @Sendable (Result<T, JobStoreError>) -> Void
    ) {
        let operation: @Sendable () async -> Void = {
            do throws(JobStoreError) {
                completion(.success(try await work()))
            } catch {
                completion(.failure(error))
            }
        }
        if case .terminated = operationsInput.yield(operation) { completion(.failure(.closed)) }
    }

    /// Runs `body` in one transaction on a connection of the pool; a `JobStoreError` it throws
    /// rolls the transaction back and comes out as it was. `body` speaks to the connection
    /// through ``PostgresConnection/rows(_:logger:)`` only (see there why).
    func transaction<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(JobStoreError) -> T {
        try await onConnection(inTransaction: true, body)
    }

    /// ``transaction(_:)`` without BEGIN and COMMIT: each statement `body` sends commits alone.
    /// For an operation that is one statement (plus reads that only explain its refusal), which
    /// so costs one round trip to the server instead of three.
    func autocommit<T: Sendable>(
        _ body: @escaping @Sendable (PostgresTransaction) async throws -> T
    ) async throws(JobStoreError) -> T {
        try await onConnection(inTransaction: false) { connection in
            try await body(PostgresTransaction(connection: connection, logger: self.logger, node: self.node))
        }
    }

    private func onConnection<T: Sendable>(
        inTransaction: Bool, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(JobStoreError) -> T {
        try await inRun { () async throws(JobStoreError) in
            self.counters.withLock {
                $0.transactions += 1
                $0.operations += 1
                $0.largestGroup = 1
            }
            do {
                // BEGIN and COMMIT of our own rather than PostgresClient's withTransaction, so
                // that they too go through rows(_:logger:), which always answers.
                return try await self.client.withConnection { connection in
                    guard inTransaction else { return try await body(connection) }
                    try await connection.run("BEGIN", logger: self.logger)
                    let result: T
                    do {
                        result = try await body(connection)
                    } catch {
                        try? await connection.run("ROLLBACK", logger: self.logger)
                        throw error
                    }
                    try await connection.run("COMMIT", logger: self.logger)
                    return result
                }
            } catch {
                throw .postgres(error)
            }
        }
    }

    /// Carries `work` out inside `run()`, as every database call of the store is: the pool
    /// is running by then, and a call after `close()` is refused (`closed`).
    private func inRun<T: Sendable>(_ work: @escaping @Sendable () async throws(JobStoreError) -> T) async throws(JobStoreError) -> T {
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, JobStoreError>, Never>) in
            enqueue(work) { continuation.resume(returning: $0) }
        }
        return try outcome.get()
    }

    /// ``transaction(_:)`` with the store's statement helpers.
    func write<T: Sendable>(
        _ body: @escaping @Sendable (PostgresTransaction) async throws -> T
    ) async throws(JobStoreError) -> T {
        try await transaction { connection in
            try await body(PostgresTransaction(connection: connection, logger: self.logger, node: self.node))
        }
    }

    /// Runs one statement outside a transaction of ours (it commits alone) and decodes its rows.
    func rows<T: Sendable>(
        _ query: PostgresQuery, _ decode: @escaping @Sendable (PostgresRow) throws -> T
    ) async throws(JobStoreError) -> [T] {
        try await inRun { () async throws(JobStoreError) in
            do {
                return try await self.client.withConnection { try await $0.rows(query, logger: self.logger) }.map(decode)
            } catch {
                throw .postgres(error)
            }
        }
    }
}
