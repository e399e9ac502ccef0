import Foundation
import JobModel
import JobStoring

/// What an operation needs on the thread that owns a connection: the connection, a JSON
/// coder pair, a JSON decoder, the clock, and where logs go. Confined to its connection's serial queue (it is
/// reached only through a `Mutex` that only that queue locks), so it is not `Sendable`.
final class StoreContext {
    let connection: SQLiteConnection
    let clock: @Sendable () -> Timestamp
    let logDirectory: String
    /// Reads stored specs, which the store wrote itself (no check for unknown fields).
    let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.userInfo[.jobqWrittenJSON] = true
        return decoder
    }()
    /// The writer's: whether the store was opened with ``StoreConfiguration/Durability/full``,
    /// and whether its connection's commits fsync now (`PRAGMA synchronous` FULL or NORMAL),
    /// which the writer sets per transaction (see ``WriteOperation/synced``).
    let fullDurability: Bool
    var commitsSync: Bool

    init(connection: SQLiteConnection, clock: @escaping @Sendable () -> Timestamp, logDirectory: String,
         fullDurability: Bool = false) {
        self.connection = connection
        self.clock = clock
        self.logDirectory = logDirectory
        self.fullDurability = fullDurability
        self.commitsSync = fullDurability
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
    /// Whether the caller may resume only once the write is on disk. A transaction in which no
    /// operation asks for it commits without an fsync (under `full` durability; under `normal`
    /// none does): it survives the daemon's crash, as the page cache holds it, and the next
    /// synced commit puts it on disk with its own (the WAL is synced as a whole). Only a claim
    /// does without: a claim lost to a power cut leaves its jobs queued, to run again after the
    /// restart, as a claim kept would have them requeued, and their processes died with the power.
    var synced = true
}
