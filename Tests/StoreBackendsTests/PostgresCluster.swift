import Foundation
import JobModel
import JobQueueTesting
@testable import JobStorePostgres
import Logging
import PostgresNIO
import Testing

/// The private PostgreSQL cluster a suite runs against: `JOBQ_TEST_POSTGRES` when set (a cluster
/// of `scripts/postgres-cluster.sh run`), else one that scripts/postgres-cluster.sh starts for the
/// suite in a temporary directory and removes after it.
struct PostgresCluster: SuiteTrait, TestScoping {
    /// The cluster's URL, inside a suite with this trait.
    @TaskLocal static var url: String?

    var isRecursive: Bool { false }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        if let url = ProcessInfo.processInfo.environment["JOBQ_TEST_POSTGRES"], !url.isEmpty {
            try await Self.$url.withValue(url) { try await function() }
            return
        }
        let directory = try makeTemporaryDirectory("jobq-postgres")
        chmod(directory, 0o755)
        defer { try? Self.script("stop", directory) }
        try await onOwnThread { Result { try Self.script("start", directory) } }.get()
        try await Self.$url.withValue("postgresql://jobq@localhost/jobq?host=\(directory)/socket") { try await function() }
    }

    static let scriptPath = URL(filePath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appending(path: "scripts/postgres-cluster.sh").path()

    /// Runs the cluster script and waits for it. Not with Foundation's `Process`: the server
    /// the script starts inherits what `Process` watches for the script's exit, and keeps it open.
    static func script(_ command: String, _ directory: String) throws {
        let arguments = ["/bin/bash", scriptPath, command, directory]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/bash", &actions, nil, &argv, environ)
        guard spawned == 0 else {
            throw ClusterError(description: "cannot run scripts/postgres-cluster.sh: \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else {
            throw ClusterError(description: "scripts/postgres-cluster.sh \(command) \(directory) failed (wait status \(status))")
        }
    }

    struct ClusterError: Error, CustomStringConvertible {
        var description: String
    }
}

extension Trait where Self == PostgresCluster {
    /// Runs the suite against a private PostgreSQL cluster.
    static var postgresCluster: Self { PostgresCluster() }
}

/// A new, empty database in the suite's cluster for `body`, dropped afterwards: each test
/// starts from nothing and tests run in parallel.
func withTestDatabase<T>(
    _ body: (PostgresStoreConfiguration) async throws -> T
) async throws -> T {
    guard let url = PostgresCluster.url else {
        throw PostgresCluster.ClusterError(description: "the suite has no .postgresCluster trait")
    }
    let cluster = try PostgresStoreConfiguration(url: url)
    let name = "test_\(UInt64.random(in: 0...UInt64.max))"
    try await withClient(cluster) { client in
        try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
    }
    var configuration = cluster
    configuration.database = name
    do {
        let result = try await body(configuration)
        try await dropDatabase(name, in: cluster)
        return result
    } catch {
        try? await dropDatabase(name, in: cluster)
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
    clock: @escaping @Sendable () -> Timestamp = { Timestamp.now() },
    _ body: @Sendable (PostgresJobStore) async throws -> T
) async throws -> T {
    let store = try await PostgresJobStore.open(
        configuration, node: node, logDirectory: "/var/tmp/jobq-test-logs", clock: clock, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            await store.run()
            return nil
        }
        defer { group.cancelAll() }
        return try await body(store)
    }
}
