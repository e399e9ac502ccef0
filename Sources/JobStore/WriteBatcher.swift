import CSQLite
import Dispatch
import JobBasics
import JobStoring
import Logging


/// Group commit: the one writing connection, on its own serial queue, runs every write that
/// arrived while the previous commit was in flight in a single transaction.
///
/// A caller's operation runs inside a savepoint of that transaction, so that a caller whose
/// statements fail (a bad dependency, a constraint) rolls back only its own changes; the others
/// still commit. Every caller is resumed only after the `COMMIT` has returned, that is, after
/// the fsync that `synchronous=FULL` asks for: an acknowledged write is on disk.
final class WriteBatcher: Sendable {
    private struct State {
        var pending: [WriteOperation] = []
        var draining = false
        var closed = false
        var statistics = StoreStatistics()
        /// Tests: resumed once `pending.count` reaches the number.
        var pendingObservers: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Locked(State())
    /// The writer's context. Only `queue` locks this mutex (in `drain` and `close`), so the lock
    /// is never contended; it is what lets the compiler see that the context stays on one thread.
    private let context: Locked<StoreContext?>
    private let queue = DispatchQueue(label: "jobq.store.writer")
    private let logger: Logger

    init(logger: Logger) {
        self.context = Locked(nil)
        self.logger = logger
    }

    /// Creates the writer's context on the writer's own queue (so that the connection is only
    /// ever touched there) and returns what `make` reports alongside it.
    func open<Report: Sendable>(
        _ make: @escaping @Sendable () throws(JobStoreError) -> (StoreContext, Report)
    ) async throws(JobStoreError) -> Report {
        let result: Result<Report, JobStoreError> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(JobStoreError) {
                    let (context, report) = try make()
                    self.context.withLock { $0 = context }
                    continuation.resume(returning: .success(report))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    var statistics: StoreStatistics { state.withLock { $0.statistics } }

    /// Queues an operation for the next transaction.
    func enqueue(_ operation: WriteOperation) {
        let startDrain: Bool? = state.withLock { state in
            if state.closed { return nil }
            state.pending.append(operation)
            let pendingCount = state.pending.count
            state.pendingObservers.removeAll { observer in
                guard observer.count <= pendingCount else { return false }
                observer.continuation.resume()
                return true
            }
            if state.draining { return false }
            state.draining = true
            return true
        }
        switch startDrain {
        case nil: operation.reject(.closed)
        case true?: queue.async { self.drain() }
        case false?: break
        }
    }

    /// Returns once at least `count` writes wait for the next transaction (for tests that hold
    /// the writer busy and check that what queued meanwhile commits together).
    func untilPending(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state in
                if state.pending.count >= count { return true }
                state.pendingObservers.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Refuses new writes, lets the queued ones commit, then closes the connection.
    func close() async {
        state.withLock { $0.closed = true }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.drain()
                self.context.withLock { $0 = nil }
                continuation.resume()
            }
        }
    }

    private func drain() {
        while true {
            let batch: [WriteOperation]? = state.withLock { state in
                if state.pending.isEmpty {
                    state.draining = false
                    return nil
                }
                let batch = state.pending
                state.pending.removeAll(keepingCapacity: true)
                return batch
            }
            guard let batch else { return }
            // The writes that need no fsync (claims) commit first, on their own: a claim must
            // not wait for the fsync of the submits and records beside it, since a worker slot
            // stays idle until it returns. Their order relative to the others does not matter:
            // a claim that misses a job inserted beside it is woken again by that insert.
            if batch.contains(where: \.synced), batch.contains(where: { !$0.synced }) {
                transact(batch.filter { !$0.synced })
                transact(batch.filter(\.synced))
            } else {
                transact(batch)
            }
        }
    }

    /// Runs `batch` as one transaction, fsynced when any of its callers waits for the disk.
    private func transact(_ batch: [WriteOperation]) {
        // Whether any caller waits for the disk (see `WriteOperation.synced`).
        let synced = batch.contains(where: \.synced)
        // Counted before any caller resumes, so that a caller reading them sees its own write.
        state.withLock { state in
            state.statistics.transactions += 1
            state.statistics.operations += batch.count
            state.statistics.largestGroup = max(state.statistics.largestGroup, batch.count)
            if !synced { state.statistics.unsyncedTransactions += 1 }
        }
        context.withLock { context in
            guard let context else {
                for operation in batch { operation.reject(.closed) }
                return
            }
            commit(batch, synced: synced, in: context)
        }
    }

    private func commit(_ batch: [WriteOperation], synced: Bool, in context: StoreContext) {
        let connection = context.connection
        do {
            // Set before BEGIN: it applies to this transaction's COMMIT.
            let sync = context.fullDurability && synced
            if sync != context.commitsSync {
                try connection.run(sync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")
                context.commitsSync = sync
            }
            try connection.run("BEGIN IMMEDIATE")
        } catch {
            logger.error("cannot begin a write transaction", metadata: ["error": "\(error)"])
            for operation in batch { operation.reject(.storage(error)) }
            return
        }
        // One operation alone needs no savepoint: its failure rolls back the transaction.
        let useSavepoints = batch.count > 1
        var applied: [AppliedWrite] = []
        applied.reserveCapacity(batch.count)
        var abort: JobStoreError?
        for (index, operation) in batch.enumerated() {
            do {
                if useSavepoints { try connection.run("SAVEPOINT write") }
                let result = operation.apply(context)
                applied.append(result)
                if connection.isAutocommit {
                    // SQLite rolled the whole transaction back by itself (full disk, I/O error):
                    // the operations before this one are undone too.
                    let error = JobStoreError.storage(SQLiteError(
                        extendedCode: SQLITE_IOERR,
                        message: "SQLite rolled back the transaction after an error in a write grouped with this one"))
                    abort = error
                    for rest in batch[(index + 1)...] { rest.reject(error) }
                    break
                }
                if useSavepoints {
                    if !result.succeeded { try connection.run("ROLLBACK TO write") }
                    try connection.run("RELEASE write")
                }
            } catch {
                abort = .storage(error)
                for rest in batch[(index + 1)...] { rest.reject(.storage(error)) }
                break
            }
        }
        if abort == nil, !useSavepoints, applied.first?.succeeded == false {
            // The only operation failed: undo it; it reports its own error.
            try? connection.execute("ROLLBACK")
            applied[0].complete(nil)
            return
        }
        if abort == nil {
            do {
                try connection.run("COMMIT")
            } catch {
                abort = .storage(error)
            }
        }
        if let abort {
            if !connection.isAutocommit { try? connection.execute("ROLLBACK") }
            logger.error("write transaction failed; its writes were rolled back",
                         metadata: ["error": "\(abort)", "operations": "\(applied.count)"])
        }
        for result in applied { result.complete(abort) }
    }
}
