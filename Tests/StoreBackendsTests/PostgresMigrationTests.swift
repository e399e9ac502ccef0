import Foundation
import JobModel
import JobQueueTesting
@testable import JobStorePostgres
import JobStoring
import Logging
import PostgresNIO
import Testing

@Suite("PostgreSQL migrations", .postgresCluster, .timeLimit(.minutes(2)))
struct PostgresMigrationTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    func migrator(_ configuration: PostgresStoreConfiguration, _ migrations: [EmbeddedMigration] = EmbeddedMigration.postgresql) -> PostgresMigrator {
        PostgresMigrator(migrations: migrations, database: configuration.description, logger: Self.logger)
    }

    func recorded(_ client: PostgresConnection) async throws -> [String: String] {
        var result: [String: String] = [:]
        for try await (name, checksum) in try await client.query("SELECT name, checksum FROM schema_migrations", logger: Self.logger).decode((String, String).self) {
            result[name] = checksum
        }
        return result
    }

    @Test("The binary embeds exactly migrations/postgresql/, in name order")
    func embeddedMatchesFolder() throws {
        let folder = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appending(path: "migrations/postgresql")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path()).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(EmbeddedMigration.postgresql.map { $0.name + ".sql" } == files)
        for migration in EmbeddedMigration.postgresql {
            let text = try String(contentsOf: folder.appending(path: migration.name + ".sql"), encoding: .utf8)
            #expect(migration.sql == text)
        }
    }

    @Test("A new database gets every migration, recorded with its checksum; a second run applies nothing")
    func freshDatabase() async throws {
        try await withTestDatabase { configuration in
            try await withConnection(configuration) { client in
                let applied = try await migrator(configuration).migrate(client, now: Timestamp(millisecondsSinceEpoch: 1000))
                #expect(applied == EmbeddedMigration.postgresql.map(\.name))
                let recorded = try await recorded(client)
                #expect(recorded == Dictionary(uniqueKeysWithValues: EmbeddedMigration.postgresql.map { ($0.name, $0.checksum) }))
                #expect(try await migrator(configuration).migrate(client, now: Timestamp(millisecondsSinceEpoch: 2000)).isEmpty)
                // The schema is there: a job row goes in.
                try await client.query("""
                    INSERT INTO jobs (state, queue, run_at, spec, max_attempts, created_at, updated_at)
                    VALUES ('queued', 'default', 0, '{}', 1, 0, 0)
                    """, logger: Self.logger)
            }
        }
    }

    @Test("Eight nodes migrating one database at once apply each migration exactly once, and all succeed")
    func concurrentNodes() async throws {
        try await withTestDatabase { configuration in
            let names = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await withConnection(configuration) { client in
                            try await migrator(configuration).migrate(client, now: Timestamp(millisecondsSinceEpoch: 1))
                        }
                    }
                }
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
            #expect(names.sorted() == EmbeddedMigration.postgresql.map(\.name).sorted())
        }
    }

    @Test("A node older than the schema refuses to run, and says to run the newer version; nothing changes")
    func newerSchemaRefused() async throws {
        try await withTestDatabase { configuration in
            try await withConnection(configuration) { client in
                _ = try await migrator(configuration).migrate(client, now: Timestamp(millisecondsSinceEpoch: 1))
                try await client.query(
                    "INSERT INTO schema_migrations (name, checksum, applied_at) VALUES ('9999_from_the_future', 'x', 0)",
                    logger: Self.logger)
                let older = migrator(configuration)
                await #expect {
                    try await older.migrate(client, now: Timestamp(millisecondsSinceEpoch: 2))
                } throws: { error in
                    guard case .migration(.unknownMigration(name: "9999_from_the_future", database: configuration.description))
                        = error as? JobStoreError else { return false }
                    return (error as? JobStoreError)?.code == "database_incompatible"
                        && "\(error)".contains("a newer jobq has upgraded it")
                }
                #expect(try await recorded(client).count == EmbeddedMigration.postgresql.count + 1)
            }
        }
    }

    @Test("An edited migration is refused, naming both checksums")
    func editedMigrationRefused() async throws {
        try await withTestDatabase { configuration in
            try await withConnection(configuration) { client in
                _ = try await migrator(configuration).migrate(client, now: Timestamp(millisecondsSinceEpoch: 1))
                var edited = EmbeddedMigration.postgresql
                edited[0].checksum = "0123456789abcdef"
                await #expect {
                    try await migrator(configuration, edited).migrate(client, now: Timestamp(millisecondsSinceEpoch: 2))
                } throws: { error in
                    guard case .migration(.checksumMismatch(let name, _, "0123456789abcdef", _)) = error as? JobStoreError else {
                        return false
                    }
                    return name == edited[0].name
                }
            }
        }
    }

    @Test("A migration whose SQL fails is rolled back whole, and reported with the server's words")
    func failingMigrationRolledBack() async throws {
        try await withTestDatabase { configuration in
            try await withConnection(configuration) { client in
                let broken = EmbeddedMigration.postgresql + [EmbeddedMigration(
                    name: "9000_broken", checksum: "1",
                    sql: "CREATE TABLE half_done (x integer);\nALTER TABLE no_such_table ADD COLUMN y integer;")]
                await #expect {
                    try await migrator(configuration, broken).migrate(client, now: Timestamp(millisecondsSinceEpoch: 1))
                } throws: { error in
                    guard case .migration(.failed(name: "9000_broken", let failure)) = error as? JobStoreError else { return false }
                    return failure.detail.contains("42P01") && failure.message.contains("no_such_table")
                }
                // The migrations before it are applied; the broken one left nothing behind.
                #expect(try await recorded(client).keys.sorted() == EmbeddedMigration.postgresql.map(\.name))
                let tables = try await client.query("SELECT count(*) FROM pg_tables WHERE tablename = 'half_done'", logger: Self.logger)
                    .decode(Int.self).reduce(0, +)
                #expect(tables == 0)
            }
        }
    }

    @Test("A server that cannot be reached is a storage error of kind unavailable, at once")
    func unreachable() async throws {
        let configuration = PostgresStoreConfiguration(
            endpoint: .unixSocket(path: "/nonexistent/.s.PGSQL.5432"), user: "jobq", database: "jobq")
        await #expect {
            try await configuration.connect(logger: Self.logger)
        } throws: { error in
            guard case .storage(let failure) = error as? JobStoreError else { return false }
            return failure.kind == .unavailable
        }
    }

    @Test("A database that does not exist is named as such")
    func noSuchDatabase() async throws {
        try await withTestDatabase { configuration in
            var missing = configuration
            missing.database = "no_such_database"
            await #expect {
                try await missing.connect(logger: Self.logger)
            } throws: { error in
                guard case .storage(let failure) = error as? JobStoreError else { return false }
                return failure.kind == .notADatabase && failure.detail.contains("3D000") && failure.message.contains("no_such_database")
            }
        }
    }
}
