import CSQLite
import Dispatch
import Foundation
import JobModel
import Logging


/// The durable job store: jobs in SQLite, written through one connection with group commit,
/// read through another.
///
/// Every write method returns only after its transaction has committed with the configured
/// durability (`synchronous=FULL` by default: fsynced). Writes that arrive while a commit is in
/// flight are committed together in the next transaction, each in its own savepoint, so that
/// one caller's failure never undoes another's work and a caller's batch is all-or-nothing.
///
/// ```swift
/// let store = try await JobStore.open(StoreConfiguration(path: "/var/lib/jobq/jobs.db",
///                                                        logDirectory: "/var/lib/jobq/logs"))
/// let submitted = try await store.insert([JobSpec(argv: ["make", "test"])])
/// if let job = try await store.claim(queue: "default").first {
///     _ = try await store.finish(job.id, .succeeded)
/// }
/// await store.close()
/// ```
///
/// The backlog stays on disk: claiming reads one index entry per job, and counts come from a
/// table kept by triggers, so a million queued jobs cost memory only for SQLite's page cache.
public final class JobStore: Sendable {
    private let writer: WriteBatcher
    /// The reading connection; only `readQueue` locks it.
    private let reader: Locked<StoreContext?>
    private let readQueue = DispatchQueue(label: "jobq.store.reader")
    private let logger: Logger
    /// The database file.
    public let path: String
    /// The migrations applied when this store opened the database (empty when it was current).
    public let appliedMigrations: [String]

    private init(
        writer: consuming sending StoreContext,
        reader: consuming sending StoreContext,
        path: String,
        appliedMigrations: [String],
        logger: Logger
    ) {
        self.writer = WriteBatcher(context: writer, logger: logger)
        self.reader = Locked(reader)
        self.path = path
        self.appliedMigrations = appliedMigrations
        self.logger = logger
    }

    /// Opens (creating it when missing, mode 0600) the database, sets up WAL and the configured
    /// durability, and applies the migrations it lacks.
    ///
    /// Throws ``JobStoreError/migration(_:)`` for a database a newer jobq has upgraded or whose
    /// migrations were edited, ``JobStoreError/notADatabase(path:_:)`` for a file that is not
    /// SQLite, and ``JobStoreError/storage(_:)`` when the file cannot be opened or is locked.
    public static func open(
        _ configuration: StoreConfiguration,
        clock: @escaping @Sendable () -> Timestamp = { Timestamp.now() },
        logger: Logger = Logger(label: "jobq.store"),
        migrations: [EmbeddedMigration] = EmbeddedMigration.all
    ) async throws(JobStoreError) -> JobStore {
        // Opening may wait up to the busy timeout for another process's lock: not on the
        // cooperative pool.
        let result: Result<JobStore, JobStoreError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Result { () throws(JobStoreError) -> JobStore in
                    try openNow(configuration, clock: clock, logger: logger, migrations: migrations)
                })
            }
        }
        return try result.get()
    }

    private static func openNow(
        _ configuration: StoreConfiguration,
        clock: @escaping @Sendable () -> Timestamp,
        logger: Logger,
        migrations: [EmbeddedMigration]
    ) throws(JobStoreError) -> JobStore {
        let path = configuration.path
        _ = processConfigured
        if configuration.tuneMalloc {
            _ = csqlite_keep_heap_top(16 << 20, 4 << 20)
        }
        // Create the file ourselves so that it is private to the daemon's user from the start;
        // SQLite gives the -wal and -shm files the same mode.
        let fd = Foundation.open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        if fd >= 0 { Foundation.close(fd) }

        let writeConnection: SQLiteConnection
        do {
            writeConnection = try SQLiteConnection(path: path)
        } catch {
            throw .storage(error)
        }
        func configure(_ connection: SQLiteConnection, writer: Bool) throws(JobStoreError) {
            do throws(SQLiteError) {
                connection.setBusyTimeout(
                    milliseconds: Int32(clamping: max(0, configuration.busyTimeout.wholeMilliseconds)))
                if writer {
                    let mode = try connection.pragmaText("PRAGMA journal_mode = WAL")
                    guard mode?.lowercased() == "wal" else {
                        throw SQLiteError(extendedCode: SQLITE_CANTOPEN,
                                          message: "cannot use WAL mode on \(path) (journal mode is \(mode ?? "unknown"))")
                    }
                    try connection.execute(
                        configuration.durability == .full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")
                } else {
                    try connection.execute("PRAGMA query_only = ON")
                }
                try connection.execute("PRAGMA foreign_keys = ON")
                try connection.execute("PRAGMA cache_size = -\(max(64, configuration.cacheSizeKiB))")
            } catch {
                if error.isNotADatabase { throw .notADatabase(path: path, error) }
                throw .storage(error)
            }
        }
        try configure(writeConnection, writer: true)
        let applied = try Migrator(migrations: migrations, logger: logger).migrate(writeConnection, now: clock())

        let readConnection: SQLiteConnection
        do {
            readConnection = try SQLiteConnection(path: path)
        } catch {
            throw .storage(error)
        }
        try configure(readConnection, writer: false)

        let logDirectory = configuration.logDirectory.hasSuffix("/")
            ? String(configuration.logDirectory.dropLast()) : configuration.logDirectory
        logger.info("job store open", metadata: [
            "path": "\(path)", "durability": "\(configuration.durability.rawValue)",
            "migrations_applied": "\(applied.count)",
        ])
        return JobStore(
            writer: StoreContext(connection: writeConnection, clock: clock, logDirectory: logDirectory),
            reader: StoreContext(connection: readConnection, clock: clock, logDirectory: logDirectory),
            path: path,
            appliedMigrations: applied,
            logger: logger
        )
    }

    /// Refuses new operations, lets queued writes commit, and closes both connections
    /// (checkpointing the WAL into the database file).
    public func close() async {
        await writer.close()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            readQueue.async {
                self.reader.withLock { $0 = nil }
                continuation.resume()
            }
        }
    }

    /// Group-commit counters since the store opened.
    public var statistics: StoreStatistics { writer.statistics }

    /// Returns once at least `count` writes wait for the next transaction (tests).
    func untilPendingWrites(_ count: Int) async { await writer.untilPending(count) }

    // MARK: Plumbing

    /// Runs `body` in the next group-commit transaction and returns once it has committed.
    func write<T: Sendable>(
        _ body: @escaping @Sendable (StoreContext) throws(JobStoreError) -> T
    ) async throws(JobStoreError) -> T {
        let result: Result<T, JobStoreError> = await withCheckedContinuation { continuation in
            writer.enqueue(WriteOperation(
                apply: { context in
                    do throws(JobStoreError) {
                        let value = try body(context)
                        return AppliedWrite(succeeded: true) { commitFailure in
                            continuation.resume(returning: commitFailure.map { .failure($0) } ?? .success(value))
                        }
                    } catch {
                        return AppliedWrite(succeeded: false) { _ in continuation.resume(returning: .failure(error)) }
                    }
                },
                reject: { error in continuation.resume(returning: .failure(error)) }
            ))
        }
        return try result.get()
    }

    /// Runs `body` on the reading connection, in its own read transaction (a consistent snapshot).
    func read<T: Sendable>(
        _ body: @escaping @Sendable (StoreContext) throws(JobStoreError) -> T
    ) async throws(JobStoreError) -> T {
        let result: Result<T, JobStoreError> = await withCheckedContinuation { continuation in
            readQueue.async {
                let result = self.reader.withLock { context -> Result<T, JobStoreError> in
                    guard let context else { return .failure(.closed) }
                    do throws(SQLiteError) {
                        try context.connection.execute("BEGIN")
                    } catch {
                        return .failure(.storage(error))
                    }
                    defer { try? context.connection.execute("COMMIT") }
                    return Result { () throws(JobStoreError) -> T in try body(context) }
                }
                continuation.resume(returning: result)
            }
        }
        return try result.get()
    }
}

/// SQLite's process-wide settings, applied once before the first connection opens.
private let processConfigured: Bool = csqlite_configure_process() == SQLITE_OK
