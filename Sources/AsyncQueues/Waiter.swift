import Synchronization

/// One suspended `get`, `put` or `join`: the future that asyncio keeps in its `_getters`,
/// `_putters` and `Event._waiters` lists.
///
/// The queue (an actor) wakes waiters; cancellation arrives on whatever thread cancels the
/// task, synchronously, and cannot enter the actor. The small atomic state machine below
/// decides which of the two came first, so that each continuation is resumed exactly once and
/// a woken waiter is never also treated as cancelled (or the reverse):
///
/// ```
/// registered ──install──▶ suspended ──wake──▶ woken      (resumed normally)
///     │                      └──────cancel──▶ cancelled  (resumed with CancellationError)
///     ├──cancel──▶ cancelled   (cancelled before it suspended: install resumes at once)
///     └──wake────▶ woken       (woken before it suspended: install resumes at once)
/// ```
///
/// Each arrow is one compare-exchange, so exactly one party makes each transition. The queue
/// keeps a few spare waiters and reuses them (``reset()``) once a wait has ended.
@usableFromInline
final class Waiter: @unchecked Sendable {
    // @unchecked Sendable: `continuation` is the only non-atomic state. It is written only by
    // `wait`, on the queue's executor, before the compare-exchange that publishes `suspended`
    // (releasing), and read only by the one party whose compare-exchange then moves the state
    // from `suspended` (acquiring), once: every later exchange finds `woken` or `cancelled`.
    // `reset()` runs only after the wait has ended, when no wake-up pass and no cancellation
    // handler can reach this waiter any more (see `AsyncQueue.recycle`).
    private static let registered: UInt8 = 0
    private static let suspended: UInt8 = 1
    private static let woken: UInt8 = 2
    private static let cancelled: UInt8 = 3

    private let state = Atomic<UInt8>(Waiter.registered)
    private var continuation: UnsafeContinuation<Void, any Error>?

    @usableFromInline init() {}

    /// Makes a waiter whose wait has ended ready to wait again. Its `continuation` is already
    /// `nil`: whoever resumed it took it.
    @usableFromInline func reset() {
        state.store(Waiter.registered, ordering: .releasing)
    }

    /// Suspends until ``wake()`` or until the current task is cancelled.
    ///
    /// Runs on the queue's executor (the `isolation` parameter), so the waiter's registration
    /// and its suspension happen with no other queue operation in between.
    ///
    /// - Throws: `CancellationError` when cancellation won the race against ``wake()``.
    @usableFromInline func wait(isolation: isolated (any Actor)) async throws {
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation(isolation: isolation) { (continuation: UnsafeContinuation<Void, any Error>) in
                self.continuation = continuation
                let (installed, found) = state.compareExchange(
                    expected: Waiter.registered, desired: Waiter.suspended, ordering: .acquiringAndReleasing)
                if installed { return }
                self.continuation = nil
                precondition(found != Waiter.suspended, "a waiter suspends only once")
                if found == Waiter.cancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    continuation.resume()
                }
            }
        } onCancel: {
            settle(as: Waiter.cancelled).continuation?.resume(throwing: CancellationError())
        }
    }

    /// Wakes the waiter unless it was already woken or cancelled.
    ///
    /// - Returns: `true` when this call woke it (asyncio's `not waiter.done()` followed by
    ///   `set_result`), `false` when it was cancelled or woken before.
    @usableFromInline func wake() -> Bool {
        let (settled, continuation) = settle(as: Waiter.woken)
        continuation?.resume()
        return settled
    }

    /// Moves the state from `registered` or `suspended` to `final`. Returns whether this call
    /// made the move, and the continuation to resume when the waiter had suspended.
    private func settle(as final: UInt8) -> (settled: Bool, continuation: UnsafeContinuation<Void, any Error>?) {
        var expected = Waiter.suspended
        while true {
            let (exchanged, found) = state.compareExchange(
                expected: expected, desired: final, ordering: .acquiringAndReleasing)
            if exchanged { return (true, expected == Waiter.suspended ? takeContinuation() : nil) }
            guard found == Waiter.registered || found == Waiter.suspended else { return (false, nil) }
            expected = found
        }
    }

    private func takeContinuation() -> UnsafeContinuation<Void, any Error> {
        guard let continuation else { preconditionFailure("a suspended waiter holds its continuation") }
        self.continuation = nil
        return continuation
    }
}
