/// A failure of the database under a store, in terms every backend shares: what kind of failure
/// (the API answers a full disk differently from a lock held too long), and the backend's words.
///
/// Bound values are never part of it (they may hold a job's environment).
public struct StorageFailure: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, as far as a caller acts on it.
    public enum Kind: String, Hashable, Sendable {
        /// The disk (or the database's size limit) is full.
        case diskFull
        /// Another connection held a lock longer than the store waits.
        case busy
        /// A uniqueness constraint refused the change.
        case uniqueViolation
        /// The file or server is not a database the store can use, or it is damaged.
        case notADatabase
        /// The database cannot be reached (a lost connection, a server shutting down).
        case unavailable
        /// Anything else: an I/O error, a failed statement.
        case other
    }

    public var kind: Kind
    /// The backend's own message (`database or disk is full`).
    public var message: String
    /// The whole report: the backend, its code, its message and the statement that failed.
    public var detail: String

    public init(kind: Kind, message: String, detail: String) {
        self.kind = kind
        self.message = message
        self.detail = detail
    }

    public var isDiskFull: Bool { kind == .diskFull }
    public var isBusy: Bool { kind == .busy }
    public var isUniqueViolation: Bool { kind == .uniqueViolation }
    public var isNotADatabase: Bool { kind == .notADatabase }

    public var description: String { detail }
}
