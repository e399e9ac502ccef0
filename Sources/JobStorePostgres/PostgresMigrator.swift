import JobModel
import JobStoring
import Logging
import PostgresNIO

extension EmbeddedMigration {
    /// The PostgreSQL migrations this binary carries (migrations/postgresql/), in order.
    public static var postgresql: [EmbeddedMigration] { EmbeddedMigrations.all }
}

/// Brings a PostgreSQL database's schema up to date, safely when several nodes start at once.
///
/// Each migration applies in its own transaction with its row in `schema_migrations(name,
/// checksum, applied_at)`, after taking a transaction-scoped advisory lock that every jobqd
/// migrating the database takes: nodes that start together apply each migration once, one
/// after another, and each re-reads what is applied under the lock. Before changing anything the
/// migrator checks that every recorded migration is known and unchanged, so that a node older
/// than the schema refuses to run instead of writing to tables it does not understand.
struct PostgresMigrator {
    let migrations: [EmbeddedMigration]
    /// The database, as messages name it (no secret).
    let database: String
    let logger: Logger

    /// The advisory lock's key: "jobq mig" in ASCII, so that it does not collide by chance with
    /// another application's lock on the same database.
    static let lockKey: Int64 = 0x6A6F_6271_206D_6967

    /// Applies what is missing; returns the names of the migrations it applied.
    func migrate(_ connection: PostgresConnection, now: Timestamp) async throws(JobStoreError) -> [String] {
        var done: [String] = []
        while let name = try await applyNext(connection, now: now) {
            logger.info("applied migration", metadata: ["migration": "\(name)"])
            done.append(name)
        }
        return done
    }

    /// In one transaction under the lock: checks the recorded migrations and applies the first
    /// missing one; answers its name, or nil when none is missing.
    private func applyNext(_ connection: PostgresConnection, now: Timestamp) async throws(JobStoreError) -> String? {
        do {
            // BEGIN and COMMIT through PostgresConnection.rows, as the store's transactions; a
            // refusal is thrown inside, so that the transaction rolls back.
            try await connection.run("BEGIN", logger: logger)
            do {
                let applied = try await applyNextInTransaction(connection, now: now)
                try await connection.run("COMMIT", logger: logger)
                return applied
            } catch {
                try? await connection.run("ROLLBACK", logger: logger)
                throw error
            }
        } catch {
            throw .postgres(error)
        }
    }

    /// The body of ``applyNext(_:now:)``'s transaction.
    private func applyNextInTransaction(_ connection: PostgresConnection, now: Timestamp) async throws -> String? {
        try await connection.run("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: logger)
        // Created only when missing: a node's role needs no right to create tables once
        // the database's owner has migrated it (docs/operations.md, "Roles").
        let exists = try await connection.rows("SELECT to_regclass('schema_migrations') IS NOT NULL", logger: logger)
            .decoded(Bool.self).first ?? false
        if !exists {
            try await connection.run("""
                CREATE TABLE schema_migrations (
                    name       text   NOT NULL PRIMARY KEY,
                    checksum   text   NOT NULL,
                    applied_at bigint NOT NULL
                )
                """, logger: logger)
        }
        var applied: [String: String] = [:]
        for (name, checksum) in try await connection.rows(
            "SELECT name, checksum FROM schema_migrations", logger: logger
        ).decoded((String, String).self) {
            applied[name] = checksum
        }
        if let refusal = check(applied) { throw refusal }
        guard let next = migrations.first(where: { applied[$0.name] == nil }) else { return nil }
        do {
            // A file holds several statements, which one prepared statement cannot: a
            // PL/pgSQL EXECUTE runs them all, the file's text bound as its parameter.
            try await connection.run("""
                CREATE OR REPLACE FUNCTION pg_temp.jobq_run_migration(statements text) RETURNS void
                LANGUAGE plpgsql AS $$ BEGIN EXECUTE statements; END $$
                """, logger: logger)
            // A migration may take long on a large database: an hour before it counts as lost.
            try await connection.run("SELECT pg_temp.jobq_run_migration(\(next.sql))", logger: logger, limit: .hours(1))
        } catch {
            throw JobStoreError.migration(.failed(name: next.name, StorageFailure(postgres: error)))
        }
        try await connection.run("""
            INSERT INTO schema_migrations (name, checksum, applied_at)
            VALUES (\(next.name), \(next.checksum), \(now.millisecondsSinceEpoch))
            """, logger: logger)
        return next.name
    }

    /// Refuses a database with a migration this binary does not know, or whose recorded
    /// checksum differs from the embedded file's.
    private func check(_ applied: [String: String]) -> JobStoreError? {
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.name, $0) })
        for (name, checksum) in applied.sorted(by: { $0.key < $1.key }) {
            guard let migration = known[name] else {
                return .migration(.unknownMigration(name: name, database: database))
            }
            guard migration.checksum == checksum else {
                return .migration(.checksumMismatch(
                    name: name, recorded: checksum, embedded: migration.checksum, database: database))
            }
        }
        return nil
    }
}
