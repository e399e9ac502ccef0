/// Why the store refused to open a database, in one sentence an operator can act on.
public enum MigrationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The database lists a migration this binary does not carry: a newer jobq wrote it.
    case unknownMigration(name: String, database: String)
    /// A migration's recorded checksum differs from this binary's copy: the file was edited
    /// after the database applied it.
    case checksumMismatch(name: String, recorded: String, embedded: String, database: String)
    /// A migration's SQL failed; its transaction was rolled back.
    case failed(name: String, StorageFailure)

    public var description: String {
        switch self {
        case let .unknownMigration(name, database):
            "The database \(database) has migration \(name) applied, which this jobq does not know: "
                + "a newer jobq has upgraded it; run that version (or restore a backup taken before the upgrade)."
        case let .checksumMismatch(name, recorded, embedded, database):
            "Migration \(name) was applied to \(database) with checksum \(recorded), but this jobq's copy "
                + "has checksum \(embedded): the migration file was edited after release; restore the released file."
        case let .failed(name, error):
            "Migration \(name) failed and was rolled back: \(error)"
        }
    }
}
