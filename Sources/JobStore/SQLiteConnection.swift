import CSQLite
import Foundation
import JobStoring

/// One SQLite connection, used by one thread at a time (it is opened `NOMUTEX`; the store
/// confines each connection to its own serial queue behind a `Mutex`).
///
/// Statements are prepared once and cached by their SQL text; values are always bound, never
/// spliced into SQL.
final class SQLiteConnection {
    private let handle: OpaquePointer
    var rawHandle: OpaquePointer { handle }
    let path: String
    private var cache: [String: Statement] = [:]

    /// Opens (creating when `create` is set) the database at `path`.
    init(path: String, readOnly: Bool = false, create: Bool = true) throws(SQLiteError) {
        var db: OpaquePointer?
        var flags = SQLITE_OPEN_NOMUTEX
        flags |= readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create && !readOnly { flags |= SQLITE_OPEN_CREATE }
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            // sqlite3_close even after a failed open: the handle may hold memory.
            sqlite3_close_v2(db)
            throw SQLiteError(extendedCode: rc, message: "cannot open \(path): \(message)")
        }
        handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        _ = csqlite_disable_double_quoted_strings(db)
    }

    deinit {
        cache.removeAll()  // finalize every statement before closing
        sqlite3_close_v2(handle)
    }

    /// The current error as a value.
    func error(_ rc: Int32, sql: String? = nil) -> SQLiteError {
        SQLiteError(extendedCode: sqlite3_extended_errcode(handle) != 0 ? sqlite3_extended_errcode(handle) : rc,
                    message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    /// Runs SQL text that binds nothing and returns no rows needed (PRAGMAs, DDL, transactions);
    /// several statements may follow one another.
    func execute(_ sql: String) throws(SQLiteError) {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc, sql: sql) }
    }

    /// Runs one statement that binds nothing, from the statement cache: for the transaction
    /// control a write or a read runs every time (`BEGIN IMMEDIATE`, `SAVEPOINT write`,
    /// `RELEASE write`, `COMMIT`…), which `execute` would parse again on each call.
    func run(_ sql: String) throws(SQLiteError) {
        try withStatement(sql) { statement throws(SQLiteError) in try statement.run() }
    }

    /// The first column of the first row of a query with no parameters, as text.
    func pragmaText(_ sql: String) throws(SQLiteError) -> String? {
        try withStatement(sql) { statement throws(SQLiteError) in
            try statement.step() ? statement.text(0) : nil
        }
    }

    /// The cached prepared statement for `sql`, reset and cleared after `body`.
    func withStatement<T>(_ sql: String, _ body: (Statement) throws(SQLiteError) -> T) throws(SQLiteError) -> T {
        let statement: Statement
        if let cached = cache[sql] {
            statement = cached
        } else {
            var raw: OpaquePointer?
            let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
            guard rc == SQLITE_OK, let raw else { throw error(rc, sql: sql) }
            statement = Statement(raw, connection: self, sql: sql)
            cache[sql] = statement
        }
        defer { statement.reset() }
        return try body(statement)
    }

    /// The rowid of the last row inserted on this connection.
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Rows changed by the last statement.
    var changes: Int { Int(sqlite3_changes(handle)) }

    /// Whether no transaction is open (SQLite may roll one back by itself after an I/O error
    /// or a full disk).
    var isAutocommit: Bool { sqlite3_get_autocommit(handle) != 0 }
}

/// A prepared statement; parameters are 1-based, columns 0-based, as in SQLite.
final class Statement {
    private let raw: OpaquePointer
    private unowned let connection: SQLiteConnection
    let sql: String

    init(_ raw: OpaquePointer, connection: SQLiteConnection, sql: String) {
        self.raw = raw
        self.connection = connection
        self.sql = sql
    }

    deinit { sqlite3_finalize(raw) }

    func reset() {
        sqlite3_reset(raw)
        sqlite3_clear_bindings(raw)
    }

    private func check(_ rc: Int32) throws(SQLiteError) {
        guard rc == SQLITE_OK else { throw connection.error(rc, sql: sql) }
    }

    func bind(_ index: Int32, _ value: Int64?) throws(SQLiteError) {
        guard let value else { return try check(sqlite3_bind_null(raw, index)) }
        try check(sqlite3_bind_int64(raw, index, value))
    }

    func bind(_ index: Int32, _ value: Int?) throws(SQLiteError) {
        try bind(index, value.map(Int64.init))
    }

    func bind(_ index: Int32, _ value: String?) throws(SQLiteError) {
        guard let value else { return try check(sqlite3_bind_null(raw, index)) }
        try check(sqlite3_bind_text(raw, index, value, -1, csqlite_transient()))
    }

    /// Steps once: `true` when a row is available, `false` when the statement is done.
    func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(raw)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw connection.error(rc, sql: sql)
        }
    }

    /// Steps to the end, for statements that return no rows.
    func run() throws(SQLiteError) {
        while try step() {}
    }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(raw, column) == SQLITE_NULL }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(raw, column) }

    func optionalInt64(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }

    func text(_ column: Int32) -> String {
        guard let bytes = sqlite3_column_text(raw, column) else { return "" }
        let count = Int(sqlite3_column_bytes(raw, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }

    /// The column's bytes in place (valid only during `body`), for reading JSON without a copy.
    func withBytes<T>(_ column: Int32, _ body: (UnsafeBufferPointer<UInt8>) -> T) -> T {
        guard let bytes = sqlite3_column_text(raw, column) else { return body(UnsafeBufferPointer(start: nil, count: 0)) }
        return body(UnsafeBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(raw, column))))
    }

    /// The column's bytes, for decoding JSON without an intermediate String.
    func data(_ column: Int32) -> Data {
        guard let bytes = sqlite3_column_text(raw, column) else { return Data() }
        return Data(bytes: bytes, count: Int(sqlite3_column_bytes(raw, column)))
    }
}

extension SQLiteConnection {
    /// How long a statement waits for another connection's lock before failing with
    /// `SQLITE_BUSY` (bounded: never a handler that retries forever).
    func setBusyTimeout(milliseconds: Int32) {
        sqlite3_busy_timeout(rawHandle, milliseconds)
    }
}
