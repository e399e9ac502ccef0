#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value guarded by a pthread mutex (the store's writer and reader, the job launcher's inbox).
///
/// Why not `Synchronization.Mutex`: on Linux its lock lives in code ThreadSanitizer does not
/// see, so every access it guards is reported as a race (an 8-line program that appends to a
/// `Mutex<[Int]>` from `DispatchQueue.concurrentPerform` gets 7 reports with Swift 6.3.1), which
/// would hide real races in `make test-tsan`. ThreadSanitizer intercepts `pthread_mutex_lock`,
/// so with this box a report is a real race.
///
/// Safety of `@unchecked Sendable`: `value` is touched only inside `withLock`, between
/// `pthread_mutex_lock` and `pthread_mutex_unlock` on `mutex`, so every access is ordered after
/// the previous one; the mutex is heap-allocated once and never moves; the initial value is
/// `sending` (no other reference to it survives `init`), and what `withLock` returns must be
/// `Sendable`, so a non-Sendable value (a connection) can never leave the lock.
public final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: sending Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let rc = pthread_mutex_init(mutex, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with the value, holding the lock.
    public func withLock<Result: Sendable, Failure: Error>(
        _ body: (inout Value) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
