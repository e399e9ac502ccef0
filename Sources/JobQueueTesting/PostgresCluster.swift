import Foundation
import Testing

/// The private PostgreSQL cluster tests run against: `JOBQ_TEST_POSTGRES` when set (a cluster
/// of `scripts/postgres-cluster.sh run`), else one that scripts/postgres-cluster.sh starts for
/// the suite in a temporary directory and removes after it.
public struct PostgresCluster: SuiteTrait, TestScoping {
    /// The cluster's URL, inside a suite with this trait (or the environment's).
    @TaskLocal public static var url: String? = ProcessInfo.processInfo.environment["JOBQ_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }

    public var isRecursive: Bool { false }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        if Self.url != nil {
            try await function()
            return
        }
        try await Own.with { cluster in try await Self.$url.withValue(cluster.url) { try await function() } }
    }

    static let scriptPath = URL(filePath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appending(path: "scripts/postgres-cluster.sh").path()

    /// A new, empty database in the cluster; answers its URL.
    public static func newDatabase() async throws -> String {
        guard let url = Self.url, let host = url.split(separator: "host=").last, host.hasSuffix("/socket") else {
            throw ClusterError(description: "no private PostgreSQL cluster (the suite needs the .postgresCluster trait)")
        }
        let directory = String(host.dropLast("/socket".count))
        let name = "test_\(UInt64.random(in: 0...UInt64.max))"
        try await onOwnThread { Result { try script(["createdb", directory, name]) } }.get()
        return "postgresql://jobq@localhost/\(name)?host=\(directory)/socket"
    }

    /// ``newDatabase()`` for a caller that is not async (a fixture's initializer): it blocks
    /// its thread while `createdb` runs, a few tens of milliseconds.
    public static func newDatabaseBlocking() throws -> String {
        guard let url = Self.url, let host = url.split(separator: "host=").last, host.hasSuffix("/socket") else {
            throw ClusterError(description: "no private PostgreSQL cluster: JOBQ_TEST_POSTGRES is not set")
        }
        let directory = String(host.dropLast("/socket".count))
        let name = "test_\(UInt64.random(in: 0...UInt64.max))"
        try script(["createdb", directory, name])
        return "postgresql://jobq@localhost/\(name)?host=\(directory)/socket"
    }

    /// Runs the cluster script and waits for it. Not with Foundation's `Process`: the server
    /// the script starts inherits what `Process` watches for the script's exit, and keeps it open.
    static func script(_ arguments: [String]) throws {
        let all = ["/bin/bash", scriptPath] + arguments
        var argv: [UnsafeMutablePointer<CChar>?] = all.map { strdup($0) } + [nil]
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
            throw ClusterError(description: "scripts/postgres-cluster.sh \(arguments.joined(separator: " ")) failed (wait status \(status))")
        }
    }

    /// A cluster of the test's own, which it may restart without disturbing other tests:
    /// started in a temporary directory, stopped and removed by ``stop()``.
    public final class Own: Sendable {
        public let directory: String
        public var url: String { "postgresql://jobq@localhost/jobq?host=\(directory)/socket" }

        /// `listen`: IP addresses where it also takes TCP connections, trusting every client
        /// (private addresses of a test's own, such as a veth pair's).
        public init(listen: [String] = []) async throws {
            directory = try makeTemporaryDirectory("jobq-postgres")
            chmod(directory, 0o755)
            let arguments = ["start", directory] + (listen.isEmpty ? [] : [listen.joined(separator: ",")])
            try await onOwnThread { Result { try PostgresCluster.script(arguments) } }.get()
        }

        /// Stops the server (cutting every connection) and starts it again.
        public func restart() async throws {
            let directory = self.directory
            try await onOwnThread { Result { try PostgresCluster.script(["restart", directory]) } }.get()
        }

        public func stop() async {
            let directory = self.directory
            await onOwnThread { try? PostgresCluster.script(["stop", directory]) }
        }

        /// A cluster of its own for `body`, stopped and removed after it, whatever happens.
        public static func with<T>(listen: [String] = [], _ body: (Own) async throws -> T) async throws -> T {
            let cluster = try await Own(listen: listen)
            do {
                let result = try await body(cluster)
                await cluster.stop()
                return result
            } catch {
                await cluster.stop()
                throw error
            }
        }
    }

    public struct ClusterError: Error, CustomStringConvertible {
        public var description: String
    }
}

extension Trait where Self == PostgresCluster {
    /// Runs the suite against a private PostgreSQL cluster.
    public static var postgresCluster: Self { PostgresCluster() }
}
