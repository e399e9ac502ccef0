import Foundation
import JobModel

/// What an operation needs on the thread that owns a connection: the connection, a JSON
/// coder pair, a JSON decoder, the clock, and where logs go. Confined to its connection's serial queue (it is
/// reached only through a `Mutex` that only that queue locks), so it is not `Sendable`.
final class StoreContext {
    let connection: SQLiteConnection
    let clock: @Sendable () -> Timestamp
    let logDirectory: String
    let decoder = JSONDecoder()

    init(connection: SQLiteConnection, clock: @escaping @Sendable () -> Timestamp, logDirectory: String) {
        self.connection = connection
        self.clock = clock
        self.logDirectory = logDirectory
    }

    /// Runs `body` against the cached statement for `sql`, turning SQLite errors into store errors.
    func withStatement<T>(
        _ sql: String, _ body: (Statement) throws(SQLiteError) -> T
    ) throws(JobStoreError) -> T {
        do {
            return try connection.withStatement(sql, body)
        } catch {
            throw .storage(error)
        }
    }
}

/// How one operation went inside a group-commit transaction.
struct AppliedWrite {
    /// Whether the operation's statements all succeeded (its savepoint is kept).
    var succeeded: Bool
    /// Resumes the caller once the transaction's fate is known: `nil` when it committed, or
    /// the error that stopped the commit. An operation that failed on its own reports its own
    /// error whatever the commit did.
    var complete: @Sendable (_ commitFailure: JobStoreError?) -> Void
}

/// One caller's write, waiting for the next transaction.
struct WriteOperation: Sendable {
    /// Runs the operation's statements (inside the batch's transaction).
    var apply: @Sendable (StoreContext) -> AppliedWrite
    /// Resumes the caller with an error without running anything (store closed, BEGIN failed).
    var reject: @Sendable (JobStoreError) -> Void
}

/// Counters of the writer, to see group commit at work.
public struct StoreStatistics: Sendable, Hashable {
    /// Transactions committed (or attempted) by the writer.
    public var transactions: Int = 0
    /// Operations run in them; `operations / transactions` is the mean group size.
    public var operations: Int = 0
    /// The largest number of operations committed in one transaction.
    public var largestGroup: Int = 0
}
