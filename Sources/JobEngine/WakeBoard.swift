/// Queues that submits found work for, until the engine's run loop takes them: several
/// submits to a queue before the loop looks make one wake-up, and a paused queue none (a
/// resume claims it anyway).
struct WakeBoard {
    /// Queues with work the state has not been told of.
    private(set) var pending: Set<String> = []
    /// Queues the state has paused.
    var paused: Set<String> = []

    /// Notes work for `queues`; `true` when the loop must be woken (nothing was pending).
    mutating func post(_ queues: Set<String>) -> Bool {
        let fresh = queues.subtracting(paused).subtracting(pending)
        guard !fresh.isEmpty else { return false }
        let wasIdle = pending.isEmpty
        pending.formUnion(fresh)
        return wasIdle
    }

    /// The queues with work, emptying the board.
    mutating func take() -> Set<String> {
        defer { pending.removeAll() }
        return pending
    }
}
