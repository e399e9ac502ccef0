import JobModel

/// The engine's time: what it stamps and when its timers fire. Tests use a clock they move by
/// hand; the daemon uses ``SystemEngineClock``.
public protocol EngineClock: Sendable {
    /// The current time.
    func now() -> Timestamp
    /// Suspends until `deadline` (returns at once when it has passed). Throws
    /// `CancellationError` when the calling task is cancelled.
    func sleep(until deadline: Timestamp) async throws
}

/// The system's real-time clock.
public struct SystemEngineClock: EngineClock {
    public init() {}

    public func now() -> Timestamp { Timestamp.now() }

    public func sleep(until deadline: Timestamp) async throws {
        let wait = now().duration(to: deadline)
        if wait > .zero { try await Task.sleep(for: wait) }
        try Task.checkCancellation()
    }
}
