import JobAPI
import JobBasics
import JobModel

/// Each user's `GET /v1/status` for up to a second: every open overview looks again after the
/// same summary of changes, so that twenty tabs would otherwise ask the engine and the store
/// twenty times in the same moment. Kept per user, so that no one sees an answer made for
/// someone else.
final class StatusCache: Sendable {
    private let entries = Locked<[UInt32: (at: Duration, report: StatusReport)]>([:])
    private let maxAge: Duration
    private let now: @Sendable () -> Duration

    init(maxAge: Duration = .seconds(1), now: @escaping @Sendable () -> Duration = DashboardSessions.uptime) {
        self.maxAge = maxAge
        self.now = now
    }

    /// The user's status, from the cache while it is fresh, else from `fetch`.
    func status(for user: PeerCredentials, fetch: () async throws -> StatusReport) async throws -> StatusReport {
        let time = now()
        let maxAge = self.maxAge
        if let entry = entries.withLock({ $0[user.uid] }), time - entry.at < maxAge { return entry.report }
        let report = try await fetch()
        entries.withLock { entries in
            entries = entries.filter { time - $0.value.at < maxAge }
            entries[user.uid] = (time, report)
        }
        return report
    }
}
