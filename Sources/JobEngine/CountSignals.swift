import AsyncQueues

/// Readiness signals for tests: waiters that resume once a count the engine keeps (joins that
/// wait, jobs claimed) reaches theirs. Lives in the engine's actor state.
struct CountSignals {
    private var waiting: [(count: Int, signal: AsyncQueue<Void>)] = []

    /// The signal to await until the count reaches `count`; nil when `current` already has.
    mutating func signal(at count: Int, current: Int) -> AsyncQueue<Void>? {
        if current >= count { return nil }
        let signal = AsyncQueue<Void>(maxsize: 1)
        waiting.append((count, signal))
        return signal
    }

    /// Takes out the signals that `current` has reached, for the caller to put to.
    mutating func reached(_ current: Int) -> [AsyncQueue<Void>] {
        let due = waiting.filter { current >= $0.count }.map(\.signal)
        waiting.removeAll { current >= $0.count }
        return due
    }
}
