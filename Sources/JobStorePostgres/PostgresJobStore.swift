import JobModel
import JobStoring
import Logging
import PostgresNIO
import ServiceLifecycle

/// The job store on PostgreSQL, which several jobqd (nodes) on several hosts share.
///
/// Each write is one transaction on a connection of the pool, answered after its commit;
/// PostgreSQL commits concurrent transactions' WAL together, so the store needs no group commit
/// of its own. Every connection names its node in the session setting `jobq.node`, which the
/// counting triggers read (see migrations/postgresql/0001_initial.sql).
///
/// The store is a `Service`: its `run()` runs the connection pool, and must be running (in the
/// daemon's `ServiceGroup`, or a test's task group) for the store to answer.
public final class PostgresJobStore: Sendable, Service {
    let client: PostgresClient
    /// This jobqd's name among the nodes.
    public let node: String
    let clock: @Sendable () -> Timestamp
    let logger: Logger
    /// The database, as messages name it (no secret).
    public let database: String
    /// The migrations applied when this store opened the database (empty when it was current).
    public let appliedMigrations: [String]

    private init(
        client: PostgresClient, node: String, clock: @escaping @Sendable () -> Timestamp, logger: Logger,
        database: String, appliedMigrations: [String]
    ) {
        self.client = client
        self.node = node
        self.clock = clock
        self.logger = logger
        self.database = database
        self.appliedMigrations = appliedMigrations
    }

    /// Connects once (a server that cannot be reached or refuses the login is reported at
    /// once), applies the migrations the database lacks, and prepares the pool, which runs once
    /// the store's `run()` does.
    public static func open(
        _ configuration: PostgresStoreConfiguration,
        node: String,
        clock: @escaping @Sendable () -> Timestamp = { Timestamp.now() },
        logger: Logger = Logger(label: "jobq.store"),
        migrations: [EmbeddedMigration] = EmbeddedMigration.postgresql
    ) async throws(JobStoreError) -> PostgresJobStore {
        let connection = try await configuration.connect(logger: logger)
        let applied: [String]
        do {
            applied = try await PostgresMigrator(migrations: migrations, database: configuration.description, logger: logger)
                .migrate(connection, now: clock())
        } catch {
            try? await connection.close()
            throw error
        }
        try? await connection.close()
        var pool = configuration.clientConfiguration
        pool.options.additionalStartupParameters.append(("jobq.node", node))
        logger.info("job store open", metadata: [
            "database": "\(configuration)", "node": "\(node)", "migrations_applied": "\(applied.count)",
        ])
        return PostgresJobStore(
            client: PostgresClient(configuration: pool, backgroundLogger: logger), node: node, clock: clock,
            logger: logger, database: configuration.description, appliedMigrations: applied)
    }

    /// Runs the connection pool until the task is cancelled (the service group's shutdown).
    public func run() async {
        await client.run()
    }

    /// Runs `body` in one transaction on a connection of the pool; a `JobStoreError` it throws
    /// rolls the transaction back and comes out as it was.
    func transaction<T: Sendable>(
        _ body: @Sendable (PostgresConnection) async throws -> T
    ) async throws(JobStoreError) -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch {
            throw .postgres(error)
        }
    }

    /// Runs one statement outside a transaction of ours (it commits alone) and decodes its rows.
    func rows<T: Sendable>(
        _ query: PostgresQuery, _ decode: @Sendable (PostgresRow) throws -> T
    ) async throws(JobStoreError) -> [T] {
        do {
            var result: [T] = []
            for try await row in try await client.query(query, logger: logger) { result.append(try decode(row)) }
            return result
        } catch {
            throw .postgres(error)
        }
    }
}
