import Foundation
import Hummingbird
import JobEngine
import JobModel
import JobStore
import Logging
import ServiceLifecycle

/// The HTTP/JSON API on the daemon's Unix socket (Hummingbird).
///
/// Today it answers `GET /healthz`, `GET /v1/status` and the job routes (submit, show, list,
/// cancel, retry); wait, join, logs, queues, events and metrics arrive with the `jobq` command. Every error has the JSON shape
/// `{"error":{"code","message"}}`.
public enum JobAPI {
    /// The version the API reports.
    public static let version = "0.1.0"

    /// The API as a swift-service-lifecycle service, listening on `socketPath` (prepared with
    /// ``SocketFile/prepare(_:)`` first). `onListening` runs once the socket accepts connections,
    /// after its mode is set to 0660.
    public static func service(
        engine: JobEngine,
        store: JobStore,
        socketPath: String,
        startedAt: Date = Date(),
        onListening: @escaping @Sendable () async -> Void,
        logger: Logger
    ) -> some Service {
        let router = Router()
        router.middlewares.add(ErrorShapeMiddleware())
        router.get("healthz") { _, _ in Health(status: "ok") }
        router.get("v1/status") { _, _ in
            try await Status.current(engine: engine, store: store, startedAt: startedAt)
        }
        JobRoutes.add(to: router, engine: engine, store: store)
        return Application(
            router: router,
            configuration: ApplicationConfiguration(address: .unixDomainSocket(path: socketPath), serverName: "jobqd"),
            onServerRunning: { _ in
                chmod(socketPath, 0o660)
                logger.info("API listening", metadata: ["socket": "\(socketPath)"])
                await onListening()
            },
            logger: logger)
    }
}

/// `GET /healthz`.
struct Health: ResponseEncodable {
    var status: String
}

/// `GET /v1/status`: counts by state (all queues, and per queue), workers busy and total, the
/// version and the uptime.
struct Status: ResponseEncodable {
    struct Queue: Encodable {
        var name: String
        var concurrency: Int
        var paused: Bool
        var running: Int
        var states: [String: Int]
    }

    struct Workers: Encodable {
        var busy: Int
        var total: Int
    }

    var version: String
    var uptimeSeconds: Double
    var states: [String: Int]
    var workers: Workers
    var queues: [Queue]

    enum CodingKeys: String, CodingKey {
        case version
        case uptimeSeconds = "uptime_seconds"
        case states, workers, queues
    }

    static func current(engine: JobEngine, store: JobStore, startedAt: Date) async throws -> Status {
        let counts: [QueueCounts]
        do {
            counts = try await store.counts()
        } catch {
            throw APIError(HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage"), code: error.code, message: error.description)
        }
        let runtime = await engine.queueStatus()
        var totals: [String: Int] = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, 0) })
        var perQueue: [String: [String: Int]] = [:]
        for queue in counts {
            for (state, count) in queue.counts {
                totals[state.rawValue, default: 0] += count
                perQueue[queue.queue, default: [:]][state.rawValue] = count
            }
        }
        let names = Set(runtime.map(\.name)).union(perQueue.keys).sorted()
        let byName = Dictionary(uniqueKeysWithValues: runtime.map { ($0.name, $0) })
        let queues = names.map { name in
            Queue(name: name, concurrency: byName[name]?.concurrency ?? 0, paused: byName[name]?.paused ?? false,
                  running: byName[name]?.running ?? 0, states: perQueue[name] ?? [:])
        }
        return Status(
            version: JobAPI.version,
            uptimeSeconds: (Date().timeIntervalSince(startedAt) * 10).rounded() / 10,
            states: totals,
            workers: Workers(busy: runtime.reduce(0) { $0 + $1.running }, total: runtime.reduce(0) { $0 + $1.concurrency }),
            queues: queues)
    }
}
