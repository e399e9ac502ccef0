import Foundation
import JobModel
import JobQueueTesting
@testable import JobStore
import JobStoring
import Testing

@Suite("Migrations", .timeLimit(.minutes(1)))
struct MigrationTests {
    /// The package's migrations/sqlite/ folder, found from this file's path.
    static let migrationsDirectory = URL(filePath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appending(path: "migrations/sqlite")

    func fnv1a64(_ data: Data) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in data { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    @Test("The binary embeds exactly the migrations/sqlite/ folder, in name order, with matching checksums")
    func embeddedMatchesFolder() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.migrationsDirectory.path())
            .filter { $0.hasSuffix(".sql") }.sorted()
        #expect(EmbeddedMigration.sqlite.map { $0.name + ".sql" } == files)
        #expect(EmbeddedMigration.sqlite.count >= 2)
        for migration in EmbeddedMigration.sqlite {
            let data = try Data(contentsOf: Self.migrationsDirectory.appending(path: migration.name + ".sql"))
            #expect(migration.checksum == fnv1a64(data), "\(migration.name)")
            #expect(migration.sql == String(decoding: data, as: UTF8.self))
        }
    }

    @Test("A new database gets every migration, recorded with its checksum")
    func freshDatabase() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = StoreConfiguration(path: directory + "/jobs.db", logDirectory: directory)
            let store = try await JobStore.openQuietly(configuration)
            #expect(store.appliedMigrations == EmbeddedMigration.sqlite.map(\.name))
            let recorded = try await store.read { context throws(JobStoreError) in
                try context.withStatement("SELECT name, checksum FROM schema_migrations ORDER BY name") {
                    statement throws(SQLiteError) in
                    var rows: [String] = []
                    while try statement.step() { rows.append(statement.text(0) + " " + statement.text(1)) }
                    return rows
                }
            }
            #expect(recorded == EmbeddedMigration.sqlite.map { $0.name + " " + $0.checksum })
            await store.close()
            let again = try await JobStore.openQuietly(configuration)
            #expect(again.appliedMigrations.isEmpty)
            await again.close()
        }
    }

    @Test("A database made by 0001 alone upgrades in place to the latest, its jobs counted")
    func upgradeFromFirstMigration() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = StoreConfiguration(path: directory + "/jobs.db", logDirectory: directory)
            let old = try await JobStore.openQuietly(configuration, migrations: Array(EmbeddedMigration.sqlite.prefix(1)))
            #expect(old.appliedMigrations == ["0001_initial"])
            // Rows as the 0001 schema holds them (the current store code expects the latest schema).
            let ids = try await old.write { context throws(JobStoreError) in
                var ids: [JobID] = []
                for index in 0..<5 {
                    try context.withStatement("""
                        INSERT INTO jobs (state, queue, priority, run_at, spec, max_attempts, created_at, updated_at)
                        VALUES (?1, ?2, 0, 1000, ?3, 1, 1000, 1000)
                        """) { statement throws(SQLiteError) in
                        try statement.bind(1, index == 0 ? "running" : "queued")
                        try statement.bind(2, index < 3 ? "a" : "b")
                        try statement.bind(3, spec(queue: index < 3 ? "a" : "b").compactJSON)
                        try statement.run()
                    }
                    ids.append(JobID(context.connection.lastInsertRowID))
                }
                return ids
            }
            await old.close()

            let upgraded = try await JobStore.openQuietly(configuration)
            #expect(upgraded.appliedMigrations == EmbeddedMigration.sqlite.dropFirst().map(\.name))
            let counts = try await upgraded.counts()
            #expect(counts.map(\.queue) == ["a", "b"])
            #expect(counts[0].counts == [.running: 1, .queued: 2])
            #expect(counts[1].counts == [.queued: 2])
            #expect(try await upgraded.jobs(limit: 10).jobs.map(\.id) == ids)
            #expect(try await upgraded.integrityCheck() == ["ok"])
            await upgraded.close()
        }
    }

    @Test("A database that lists a migration this binary does not know is refused, unchanged")
    func unknownMigrationRefused() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/jobs.db"
            let configuration = StoreConfiguration(path: path, logDirectory: directory)
            let future = EmbeddedMigration(name: "9999_from_the_future", checksum: "0123456789abcdef",
                                           sql: "CREATE TABLE future (x INTEGER);")
            let newer = try await JobStore.openQuietly(configuration, migrations: EmbeddedMigration.sqlite + [future])
            await newer.close()
            let bytes = try Data(contentsOf: URL(filePath: path))
            do throws(JobStoreError) {
                _ = try await JobStore.openQuietly(configuration)
                Issue.record("a database from a newer jobq was opened")
            } catch {
                #expect(error == .migration(.unknownMigration(name: "9999_from_the_future", database: path)))
                #expect(error.description == "The database \(path) has migration 9999_from_the_future applied, "
                    + "which this jobq does not know: a newer jobq has upgraded it; run that version "
                    + "(or restore a backup taken before the upgrade).")
                #expect(error.code == "database_incompatible")
            }
            #expect(try Data(contentsOf: URL(filePath: path)) == bytes)
        }
    }

    @Test("A migration edited after it was applied is refused")
    func editedMigrationRefused() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/jobs.db"
            let configuration = StoreConfiguration(path: path, logDirectory: directory)
            await (try await JobStore.openQuietly(configuration)).close()
            var edited = EmbeddedMigration.sqlite
            edited[1].sql += "\n-- a comment added later\n"
            edited[1].checksum = "feedfacecafebeef"
            do throws(JobStoreError) {
                _ = try await JobStore.openQuietly(configuration, migrations: edited)
                Issue.record("an edited migration was accepted")
            } catch {
                #expect(error == .migration(.checksumMismatch(
                    name: edited[1].name, recorded: EmbeddedMigration.sqlite[1].checksum,
                    embedded: "feedfacecafebeef", database: path)))
                #expect(error.description.contains("the migration file was edited after release"))
            }
        }
    }

    @Test("A file that is not SQLite is refused with a clear message and left as it was")
    func notADatabase() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/jobs.db"
            let garbage = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919) })
            try garbage.write(to: URL(filePath: path))
            do throws(JobStoreError) {
                _ = try await JobStore.openQuietly(StoreConfiguration(path: path, logDirectory: directory))
                Issue.record("garbage was opened as a database")
            } catch {
                guard case .notADatabase(let reported, _) = error else {
                    Issue.record("unexpected error \(error)")
                    return
                }
                #expect(reported == path)
                #expect(error.description.hasPrefix("\(path) is not a jobq database"))
            }
            #expect(try Data(contentsOf: URL(filePath: path)) == garbage)
        }
    }

    @Test("A migration whose SQL fails is rolled back with its bookkeeping row")
    func failingMigrationRollsBack() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = StoreConfiguration(path: directory + "/jobs.db", logDirectory: directory)
            let broken = EmbeddedMigration(name: "0003_broken", checksum: "0",
                                           sql: "CREATE TABLE half (x INTEGER); INSERT INTO no_such_table VALUES (1);")
            do throws(JobStoreError) {
                _ = try await JobStore.openQuietly(configuration, migrations: EmbeddedMigration.sqlite + [broken])
                Issue.record("a failing migration was accepted")
            } catch {
                guard case .migration(.failed(name: "0003_broken", _)) = error else {
                    Issue.record("unexpected error \(error)")
                    return
                }
            }
            // The good migrations stayed; the broken one left no table and no row.
            let store = try await JobStore.openQuietly(configuration)
            #expect(store.appliedMigrations.isEmpty)
            let tables = try await store.read { context throws(JobStoreError) in
                try context.withStatement("SELECT count(*) FROM sqlite_schema WHERE name = 'half'") {
                    statement throws(SQLiteError) in
                    _ = try statement.step()
                    return statement.int64(0)
                }
            }
            #expect(tables == 0)
            await store.close()
        }
    }
}
