import Foundation
import JobModel
import JobQueueTesting
@testable import JobStorePostgres
import Logging
import PostgresNIO
import Testing

/// A new, empty database in the suite's cluster for `body`, dropped afterwards: each test
/// starts from nothing and tests run in parallel.
func withTestDatabase<T>(
    _ body: (PostgresStoreConfiguration) async throws -> T
) async throws -> T {
    let configuration = try PostgresStoreConfiguration(url: try await PostgresCluster.newDatabase())
    var cluster = configuration
    cluster.database = "jobq"
    do {
        let result = try await body(configuration)
        try await dropDatabase(configuration.database, in: cluster)
        return result
    } catch {
        try? await dropDatabase(configuration.database, in: cluster)
        throw error
    }
}

private func dropDatabase(_ name: String, in cluster: PostgresStoreConfiguration) async throws {
    try await withClient(cluster) { client in
        try await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"))
    }
}

/// One connection to `configuration` for `body`, closed after it.
@discardableResult
func withConnection<T: Sendable>(
    _ configuration: PostgresStoreConfiguration, _ body: (PostgresConnection) async throws -> T
) async throws -> T {
    let connection = try await configuration.connect(logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    do {
        let result = try await body(connection)
        try await connection.close()
        return result
    } catch {
        try? await connection.close()
        throw error
    }
}

/// A running PostgresClient on `configuration` for `body`.
@discardableResult
func withClient<T: Sendable>(
    _ configuration: PostgresStoreConfiguration, _ body: @Sendable (PostgresClient) async throws -> T
) async throws -> T {
    let client = PostgresClient(configuration: configuration.clientConfiguration)
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            await client.run()
            return nil
        }
        defer { group.cancelAll() }
        return try await body(client)
    }
}

/// A PostgreSQL store on `configuration`, running (its pool) for `body`, as node `node`.
@discardableResult
func withStore<T: Sendable>(
    _ configuration: PostgresStoreConfiguration, node: String = "node-a",
    heartbeat: NodeHeartbeat = NodeHeartbeat(lapse: .seconds(30), interval: .seconds(3600)),
    clock: @escaping @Sendable () -> Timestamp = { Timestamp.now() },
    _ body: @Sendable (PostgresJobStore) async throws -> T
) async throws -> T {
    let store = try await PostgresJobStore.open(
        configuration, node: node, logDirectory: "/var/tmp/jobq-test-logs", heartbeat: heartbeat, clock: clock, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            await store.runWithPool()
            return nil
        }
        defer { group.cancelAll() }
        return try await body(store)
    }
}
