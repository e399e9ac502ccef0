import Synchronization

/// One suspended `get`, `put` or `join`: the future that asyncio keeps in its `_getters`,
/// `_putters` and `Event._waiters` lists.
///
/// The queue (an actor) wakes waiters; cancellation arrives on whatever thread cancels the
/// task, synchronously, and cannot enter the actor. The small lock-protected state machine
/// below decides which of the two came first, so that each continuation is resumed exactly
/// once and a woken waiter is never also treated as cancelled (or the reverse):
///
/// ```
/// registered ──install──▶ suspended ──wake──▶ woken      (resumed normally)
///     │                      └──────cancel──▶ cancelled  (resumed with CancellationError)
///     ├──cancel──▶ cancelled   (cancelled before it suspended: install resumes at once)
///     └──wake────▶ woken       (woken before it suspended: install resumes at once)
/// ```
@usableFromInline
final class Waiter: Sendable {
    private enum State {
        case registered
        case suspended(UnsafeContinuation<Void, any Error>)
        case woken
        case cancelled
    }

    private let state = Mutex<State>(.registered)

    @usableFromInline init() {}

    /// Suspends until ``wake()`` or until the current task is cancelled.
    ///
    /// Runs on the queue's executor (the `isolation` parameter), so the waiter's registration
    /// and its suspension happen with no other queue operation in between.
    ///
    /// - Throws: `CancellationError` when cancellation won the race against ``wake()``.
    @usableFromInline func wait(isolation: isolated (any Actor)) async throws {
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation(isolation: isolation) { (continuation: UnsafeContinuation<Void, any Error>) in
                let outcome: State? = state.withLock { state in
                    switch state {
                    case .registered:
                        state = .suspended(continuation)
                        return nil
                    case .woken, .cancelled:
                        return state
                    case .suspended:
                        preconditionFailure("a waiter suspends only once")
                    }
                }
                switch outcome {
                case nil: break
                case .cancelled?: continuation.resume(throwing: CancellationError())
                default: continuation.resume()
                }
            }
        } onCancel: {
            let continuation: UnsafeContinuation<Void, any Error>? = state.withLock { state in
                switch state {
                case .registered:
                    state = .cancelled
                    return nil
                case .suspended(let continuation):
                    state = .cancelled
                    return continuation
                case .woken, .cancelled:
                    return nil
                }
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    /// Wakes the waiter unless it was already woken or cancelled.
    ///
    /// - Returns: `true` when this call woke it (asyncio's `not waiter.done()` followed by
    ///   `set_result`), `false` when it was cancelled or woken before.
    @usableFromInline func wake() -> Bool {
        let (woke, continuation): (Bool, UnsafeContinuation<Void, any Error>?) = state.withLock { state in
            switch state {
            case .registered:
                state = .woken
                return (true, nil)
            case .suspended(let continuation):
                state = .woken
                return (true, continuation)
            case .woken, .cancelled:
                return (false, nil)
            }
        }
        continuation?.resume()
        return woke
    }
}
