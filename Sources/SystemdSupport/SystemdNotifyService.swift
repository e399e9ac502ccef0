#if canImport(Glibc)
import Glibc
#endif
import Logging
import ServiceLifecycle

/// Tells systemd how the daemon is doing: `READY=1` once it can take work, `STATUS=` lines,
/// `WATCHDOG=1` while it is healthy, `STOPPING=1` when shutdown begins.
///
/// Put it last in the `ServiceGroup`: it then hears of a graceful shutdown first, and
/// `STOPPING=1` goes out before the other services start draining.
public struct SystemdNotifyService: Service {
    private let notifier: SystemdNotifier
    private let watchdogInterval: Duration?
    private let statusInterval: Duration
    private let waitUntilReady: @Sendable () async throws -> Void
    private let status: @Sendable () async -> String
    private let isHealthy: @Sendable () async -> Bool
    private let logger: Logger

    /// - Parameters:
    ///   - waitUntilReady: returns once the daemon accepts work (its socket is bound, its store
    ///     open and recovered); `READY=1` goes out only then.
    ///   - status: the one-line summary for `STATUS=` (for example "2 running, 14 queued").
    ///   - isHealthy: checked before every watchdog ping: a ping on a bare timer proves nothing.
    public init(
        notifier: SystemdNotifier,
        watchdogInterval: Duration?,
        statusInterval: Duration = .seconds(10),
        waitUntilReady: @escaping @Sendable () async throws -> Void,
        status: @escaping @Sendable () async -> String,
        isHealthy: @escaping @Sendable () async -> Bool,
        logger: Logger = Logger(label: "jobq.systemd")
    ) {
        self.notifier = notifier
        self.watchdogInterval = watchdogInterval
        self.statusInterval = statusInterval
        self.waitUntilReady = waitUntilReady
        self.status = status
        self.isHealthy = isHealthy
        self.logger = logger
    }

    public func run() async throws {
        var failures = 0  // notifications lost in the current outage
        let ready: Void? = try await cancelWhenGracefulShutdown { try await waitUntilReady() }
        if ready != nil {
            send([.ready, .status(await status()), .mainPID(getpid())], &failures)
            // Ping at half the watchdog interval (as sd_watchdog_enabled advises); refresh the
            // status line at least every statusInterval.
            let tick = watchdogInterval.map { min($0 / 2, statusInterval) } ?? statusInterval
            while !Task.isShuttingDownGracefully {
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(for: tick) }
                } catch {
                    break
                }
                if Task.isShuttingDownGracefully { break }
                var fields: [SystemdNotifier.Field] = [.status(await status())]
                if watchdogInterval != nil {
                    if await isHealthy() {
                        fields.append(.watchdog)
                    } else {
                        logger.warning("health check failed: no watchdog ping")
                    }
                }
                send(fields, &failures)
            }
        }
        send([.stopping, .status("stopping: draining running jobs")], &failures)
    }

    /// Sends `fields`, counting in `failures` the notifications lost since the last that went
    /// through: the first failure of an outage is a warning, the ones after it (one per tick
    /// while it lasts) are debug messages, and the first notification that goes through again
    /// says so, with how many were lost.
    private func send(_ fields: [SystemdNotifier.Field], _ failures: inout Int) {
        do {
            try notifier.notify(fields)
            if failures > 0 {
                logger.notice("notifying systemd again", metadata: ["failed_notifications": "\(failures)"])
                failures = 0
            }
        } catch {
            failures += 1
            if failures == 1 {
                logger.warning("cannot notify systemd; until a notification goes through, further failures are logged at debug level",
                               metadata: ["error": "\(error)"])
            } else {
                logger.debug("cannot notify systemd", metadata: ["error": "\(error)", "failed_notifications": "\(failures)"])
            }
        }
    }
}
