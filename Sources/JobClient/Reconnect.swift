extension JobClientError {
    /// Whether a daemon was serving the request and went away under it: it is stopping
    /// (`503 shutting_down`), or the connection broke.
    public var daemonWentAway: Bool {
        switch self {
        case .connectionLost: true
        case .refused(503, "shutting_down", _): true
        case .unreachable, .refused, .badResponse: false
        }
    }
}

extension JobClient {
    /// Runs `call`, and runs it again when the daemon goes away under it (a restart, a crash)
    /// and comes back within `window`: meant for requests that are safe to repeat, such as a
    /// wait or a join.
    ///
    /// After a loss it calls again at once: a socket-activated daemon's socket outlives the
    /// daemon, and the call waits in its backlog for the next one. When that finds nobody, it
    /// waits for the socket's directory to change (``SocketWatch``, armed before each call, so
    /// that no change is missed) and calls again, until `window` after the loss or `deadline`,
    /// whichever comes first; then it throws the last error. `onLoss` is told of each loss.
    ///
    /// An error that is not a loss is thrown at once, as is a daemon unreachable before any
    /// loss: a wait started with no daemon fails at once, as every other command does.
    public func reconnecting<T>(
        within window: Duration, until deadline: ContinuousClock.Instant? = nil,
        onLoss: (JobClientError) -> Void = { _ in },
        _ call: () async throws -> T
    ) async throws -> T {
        var lostAt: ContinuousClock.Instant?
        var watch: SocketWatch?
        // Whether the last call followed a change of the socket's directory: a loss after one
        // is a new loss (the daemon came back and went away again), with a window of its own.
        var afterChange = false
        while true {
            do {
                return try await call()
            } catch let error as JobClientError {
                guard error.daemonWentAway || (lostAt != nil && error.isUnreachable) else { throw error }
                if error.daemonWentAway && (lostAt == nil || afterChange) {
                    lostAt = .now
                    onLoss(error)
                    afterChange = false
                } else {
                    guard let watch, let lostAt, try await watch.changed(before: Self.giveUp(lostAt, window, deadline)) else {
                        throw error
                    }
                    afterChange = true
                }
                guard let lostAt, Self.giveUp(lostAt, window, deadline) > .now,
                      let next = SocketWatch(socketPath: socketPath) else { throw error }
                watch = next
            }
        }
    }

    private static func giveUp(
        _ lostAt: ContinuousClock.Instant, _ window: Duration, _ deadline: ContinuousClock.Instant?
    ) -> ContinuousClock.Instant {
        deadline.map { min($0, lostAt + window) } ?? lostAt + window
    }
}

extension JobClientError {
    var isUnreachable: Bool {
        if case .unreachable = self { true } else { false }
    }
}
