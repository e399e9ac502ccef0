import CSQLite
import Dispatch
import Foundation
import JobBasics
import JobModel
import JobStoring
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
    private let reader = Locked<StoreContext?>(nil)
    private let readQueue = DispatchQueue(label: "jobq.store.reader")
    private let logger: Logger
    /// The database file.
    public let path: String
    private let applied = Locked<[String]>([])

    /// The migrations applied when this store opened the database (empty when it was current).
    public var appliedMigrations: [String] { applied.withLock { $0 } }

    private init(path: String, logger: Logger) {
        self.writer = WriteBatcher(logger: logger)
        self.path = path
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
        migrations: [EmbeddedMigration] = EmbeddedMigration.sqlite
    ) async throws(JobStoreError) -> JobStore {
        let store = JobStore(path: configuration.path, logger: logger)
        let path = configuration.path
        let logDirectory = configuration.logDirectory.hasSuffix("/")
            ? String(configuration.logDirectory.dropLast()) : configuration.logDirectory
        // Each connection is opened on the queue that will own it (opening may wait up to the
        // busy timeout for another process's lock: not on the cooperative pool).
        let appliedNow = try await store.writer.open { () throws(JobStoreError) in
            _ = processConfigured
            if configuration.tuneMalloc {
                _ = csqlite_keep_heap_top(16 << 20, 4 << 20)
            }
            // Create the file ourselves so that it is private to the daemon's user from the
            // start; SQLite gives the -wal and -shm files the same mode.
            let fd = Foundation.open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
            if fd >= 0 { Foundation.close(fd) }
            let connection = try connect(configuration, writer: true)
            let applied = try Migrator(migrations: migrations, logger: logger).migrate(connection, now: clock())
            return (StoreContext(connection: connection, clock: clock, logDirectory: logDirectory,
                                 fullDurability: configuration.durability == .full), applied)
        }
        store.applied.withLock { $0 = appliedNow }
        let result: Result<Void, JobStoreError> = await withCheckedContinuation { continuation in
            store.readQueue.async {
                do throws(JobStoreError) {
                    let connection = try connect(configuration, writer: false)
                    store.reader.withLock { $0 = StoreContext(connection: connection, clock: clock, logDirectory: logDirectory) }
                    continuation.resume(returning: .success(()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        do {
            try result.get()
        } catch {
            await store.close()
            throw error
        }
        logger.info("job store open", metadata: [
            "path": "\(path)", "durability": "\(configuration.durability.rawValue)",
            "migrations_applied": "\(appliedNow.count)",
        ])
        return store
    }

    /// Opens and configures one connection: WAL, durability and `query_only` as fits its role,
    /// foreign keys, busy timeout, page cache.
    private static func connect(_ configuration: StoreConfiguration, writer: Bool) throws(JobStoreError) -> SQLiteConnection {
        let path = configuration.path
        let connection: SQLiteConnection
        do throws(SQLiteError) {
            connection = try SQLiteConnection(path: path)
        } catch {
            throw .storage(error)
        }
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
            // Each operation of a group commit runs in a savepoint, whose journal (the pages it
            // first touched) is otherwise a temporary file written page by page.
            try connection.execute("PRAGMA temp_store = MEMORY")
            try connection.execute("PRAGMA cache_size = -\(max(64, configuration.cacheSizeKiB))")
        } catch {
            if error.isNotADatabase { throw .notADatabase(path: path, error) }
            throw .storage(error)
        }
        return connection
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

    /// Tests: holds the writer inside a transaction, runs `body` (which starts writes), lets the writer
    /// go once `count` writes wait behind it, so that they commit as one group, and returns
    /// `body`'s result. A readiness signal, not a sleep.
    func withWriterHeld<T: Sendable>(
        untilPending count: Int, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let (entered, enteredContinuation) = AsyncStream<Void>.makeStream()
        let gate = DispatchSemaphore(value: 0)
        async let held: Void = write { _ throws(JobStoreError) in
            enteredContinuation.yield()
            gate.wait()
        }
        for await _ in entered { break }
        async let result = body()
        await untilPendingWrites(count)
        gate.signal()
        try await held
        return try await result
    }

    // MARK: Plumbing

    /// Runs `body` in the next group-commit transaction and returns once it has committed
    /// (and, when `synced`, once the commit is on disk: see ``WriteOperation/synced``).
    func write<T: Sendable>(
        synced: Bool = true,
        _ body: @escaping @Sendable (StoreContext) throws(JobStoreError) -> T
    ) async throws(JobStoreError) -> T {
        try await awaiting { enqueueWrite(synced: synced, body, completion: $0) }
    }

    /// Runs `body` in the next group-commit transaction and calls `completion` on the writer's
    /// thread once it has committed (or failed), without a task: the caller's own thread (an
    /// event loop, the launcher) hears of it next, with one hand-off each way.
    func enqueueWrite<T: Sendable>(
        synced: Bool = true,
        _ body: @escaping @Sendable (StoreContext) throws(JobStoreError) -> T,
        completion: @escaping @Sendable (Result<T, JobStoreError>) -> Void
    ) {
        writer.enqueue(WriteOperation(
            apply: { context in
                do throws(JobStoreError) {
                    let value = try body(context)
                    return AppliedWrite(succeeded: true) { commitFailure in
                        completion(commitFailure.map { .failure($0) } ?? .success(value))
                    }
                } catch {
                    return AppliedWrite(succeeded: false) { _ in completion(.failure(error)) }
                }
            },
            reject: { error in completion(.failure(error)) },
            synced: synced
        ))
    }

    /// Waits for a store call made with a completion handler.
    func awaiting<T: Sendable>(
        _ start: (@escaping @Sendable (Result<T, JobStoreError>) -> Void) -> Void
    ) async throws(JobStoreError) -> T {
        let result: Result<T, JobStoreError> = await withCheckedContinuation { continuation in
            start { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Runs `body` on the reading connection, in its own read transaction (a consistent snapshot).
    func read<T: Sendable>(
        _ body: @escaping @Sendable (StoreContext) throws(JobStoreError) -> T
    ) async throws(JobStoreError) -> T {
        try await awaiting { enqueueRead(body, completion: $0) }
    }

    /// ``read(_:)`` with a completion handler, called on the reader's thread.
    func enqueueRead<T: Sendable>(
        _ body: @escaping @Sendable (StoreContext) throws(JobStoreError) -> T,
        completion: @escaping @Sendable (Result<T, JobStoreError>) -> Void
    ) {
        readQueue.async {
            let result = self.reader.withLock { context -> Result<T, JobStoreError> in
                guard let context else { return .failure(.closed) }
                do throws(SQLiteError) {
                    try context.connection.run("BEGIN")
                } catch {
                    return .failure(.storage(error))
                }
                defer { try? context.connection.run("COMMIT") }
                return Result { () throws(JobStoreError) -> T in try body(context) }
            }
            completion(result)
        }
    }
}

/// SQLite's process-wide settings, applied once before the first connection opens.
private let processConfigured: Bool = csqlite_configure_process() == SQLITE_OK

/// One jobqd uses a SQLite store: a record cannot come from a run another node took over, so
/// the run number the protocol passes is not needed here.
extension JobStore: JobStoring {
    public func finish(
        _ id: JobID, _ completion: JobCompletion, startedAt: Timestamp?, usage: RunUsage?, spec: JobSpec?, run: Int?,
        completion done: @escaping @Sendable (Result<FinishedJob, JobStoreError>) -> Void
    ) {
        finish(id, completion, startedAt: startedAt, usage: usage, spec: spec, completion: done)
    }

    public func scheduleRetry(
        _ id: JobID, at runAt: Timestamp, exitCode: Int32?, signal: Int32?, reason: String,
        startedAt: Timestamp?, usage: RunUsage?, spec: JobSpec?, run: Int?,
        completion done: @escaping @Sendable (Result<Job, JobStoreError>) -> Void
    ) {
        scheduleRetry(id, at: runAt, exitCode: exitCode, signal: signal, reason: reason, startedAt: startedAt, usage: usage,
                      spec: spec, completion: done)
    }

    public func release(_ id: JobID, spec: JobSpec?, run: Int?, completion done: @escaping @Sendable (Result<Job, JobStoreError>) -> Void) {
        release(id, spec: spec, completion: done)
    }
}
