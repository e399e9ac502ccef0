import JobBasics
import Logging
import ServiceLifecycle

/// The overview's last hour, shared by the sampler that fills it and the pages that draw it.
final class DashboardActivity: Sendable {
    private let history: Locked<ActivityHistory>

    init(history: ActivityHistory = ActivityHistory()) {
        self.history = Locked(history)
    }

    func record(_ sample: ActivitySample) {
        history.withLock { $0.record(sample) }
    }

    var current: ActivityHistory { history.withLock { $0 } }
}

/// Reads the API's metrics every few seconds into ``DashboardActivity``, for as long as jobqd
/// runs: the charts' only source, kept in memory (a restart starts them afresh).
struct ActivitySampler: Service {
    let activity: DashboardActivity
    /// The text of `GET /metrics`.
    let read: @Sendable () async throws -> String
    let interval: Duration
    let now: @Sendable () -> Duration
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    activity.record(ActivitySample(prometheus: try await read(), at: now()))
                } catch {
                    logger.debug("the dashboard could not sample the metrics", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: interval)
            }
        }
    }
}
