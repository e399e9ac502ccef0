import JobModel
import JobStoring
import Logging

extension EmbeddedMigration {
    /// The SQLite migrations this binary carries (migrations/sqlite/), in order.
    public static var sqlite: [EmbeddedMigration] { EmbeddedMigrations.all }
}


/// Brings a database's schema up to date with a list of migrations.
///
/// The bookkeeping table `schema_migrations(name, checksum, applied_at)` records what is
/// applied. Before changing anything the migrator checks that every recorded migration is known
/// and unchanged; then it applies each missing one, in order, in its own `BEGIN IMMEDIATE`
/// transaction together with its bookkeeping row, so that a crash leaves either both or neither.
struct Migrator {
    let migrations: [EmbeddedMigration]
    let logger: Logger

    /// Returns the names of the migrations it applied.
    func migrate(_ connection: SQLiteConnection, now: Timestamp) throws(JobStoreError) -> [String] {
        do {
            try connection.execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    name       TEXT    NOT NULL PRIMARY KEY,
                    checksum   TEXT    NOT NULL,
                    applied_at INTEGER NOT NULL
                ) WITHOUT ROWID
                """)
        } catch {
            throw .storage(error)
        }
        let applied = try appliedMigrations(connection)
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.name, $0) })
        for (name, checksum) in applied.sorted(by: { $0.key < $1.key }) {
            guard let migration = known[name] else {
                throw .migration(.unknownMigration(name: name, database: connection.path))
            }
            guard migration.checksum == checksum else {
                throw .migration(.checksumMismatch(
                    name: name, recorded: checksum, embedded: migration.checksum, database: connection.path))
            }
        }
        var done: [String] = []
        for migration in migrations where applied[migration.name] == nil {
            do {
                try connection.execute("BEGIN IMMEDIATE")
            } catch {
                throw .storage(error)
            }
            do {
                try connection.execute(migration.sql)
                try connection.withStatement(
                    "INSERT INTO schema_migrations (name, checksum, applied_at) VALUES (?1, ?2, ?3)"
                ) { statement throws(SQLiteError) in
                    try statement.bind(1, migration.name)
                    try statement.bind(2, migration.checksum)
                    try statement.bind(3, now.millisecondsSinceEpoch)
                    try statement.run()
                }
                try connection.execute("COMMIT")
            } catch {
                if !connection.isAutocommit { try? connection.execute("ROLLBACK") }
                throw .migration(.failed(name: migration.name, error))
            }
            logger.info("applied migration", metadata: ["migration": "\(migration.name)"])
            done.append(migration.name)
        }
        return done
    }

    private func appliedMigrations(_ connection: SQLiteConnection) throws(JobStoreError) -> [String: String] {
        do {
            return try connection.withStatement("SELECT name, checksum FROM schema_migrations") {
                statement throws(SQLiteError) in
                var result: [String: String] = [:]
                while try statement.step() { result[statement.text(0)] = statement.text(1) }
                return result
            }
        } catch {
            throw .storage(error)
        }
    }
}
