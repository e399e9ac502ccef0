import CSQLite
import JobStoring

/// An error reported by SQLite: its result codes, its message, and the statement it came from.
///
/// Bound values are never part of the description (they may hold a job's environment).
public struct SQLiteError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The extended result code (`SQLITE_CONSTRAINT_UNIQUE`, `SQLITE_IOERR_FSYNC`, …).
    public var extendedCode: Int32
    /// SQLite's message (`sqlite3_errmsg`).
    public var message: String
    /// The SQL text, when a statement failed.
    public var sql: String?

    /// The primary result code (`SQLITE_CONSTRAINT`, `SQLITE_IOERR`, …).
    public var code: Int32 { extendedCode & 0xff }

    public init(extendedCode: Int32, message: String, sql: String? = nil) {
        self.extendedCode = extendedCode
        self.message = message
        self.sql = sql
    }

    /// The disk (or the database's size limit) is full.
    public var isDiskFull: Bool { code == SQLITE_FULL }
    /// Another connection holds a lock longer than the busy timeout.
    public var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }
    /// The file is not an SQLite database, or is damaged.
    public var isNotADatabase: Bool { code == SQLITE_NOTADB || code == SQLITE_CORRUPT }
    /// A uniqueness constraint refused the change.
    public var isUniqueViolation: Bool {
        extendedCode == Int32(CSQLITE_CONSTRAINT_UNIQUE) || extendedCode == Int32(CSQLITE_CONSTRAINT_PRIMARYKEY)
    }

    /// SQLite's English name of the result code (`"database or disk is full"`).
    public var codeName: String { String(cString: sqlite3_errstr(extendedCode)) }

    public var description: String {
        var text = "SQLite error \(extendedCode) (\(codeName)): \(message)"
        if let sql { text += " [in: \(sql.split(whereSeparator: \.isNewline).joined(separator: " "))]" }
        return text
    }
}

extension StorageFailure {
    /// SQLite's error in the store's common terms.
    init(_ error: SQLiteError) {
        let kind: Kind =
            if error.isDiskFull { .diskFull }
            else if error.isBusy { .busy }
            else if error.isUniqueViolation { .uniqueViolation }
            else if error.isNotADatabase { .notADatabase }
            else { .other }
        self.init(kind: kind, message: error.message, detail: error.description)
    }
}

extension JobStoreError {
    /// The store's error for a failed SQLite call.
    static func storage(_ error: SQLiteError) -> JobStoreError { .storage(StorageFailure(error)) }

    /// The store's error for a file SQLite cannot read as a database.
    static func notADatabase(path: String, _ error: SQLiteError) -> JobStoreError {
        .notADatabase(path: path, StorageFailure(error))
    }
}

extension MigrationError {
    /// A migration whose SQL SQLite refused.
    static func failed(name: String, _ error: SQLiteError) -> MigrationError {
        .failed(name: name, StorageFailure(error))
    }
}
