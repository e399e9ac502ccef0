import Foundation
import Hummingbird
import HummingbirdCore
import JobBasics
import JobEngine
import JobModel
import JobStoring
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// The HTTP/JSON API on the daemon's Unix socket (Hummingbird). docs/api.md describes every
/// route; docs/openapi.yaml is its machine-readable form. Every error has the JSON shape
/// `{"error":{"code","message"}}` with a stable `code`.
public enum JobAPI {
    /// The version the API reports.
    public static let version = JobqVersion.current

    /// What the routes work with.
    public struct Environment: Sendable {
        public var engine: JobEngine
        public var store: any JobStoring
        /// Where job logs live, for jobs that have not run yet (their paths are set when claimed).
        public var logDirectory: String
        public var startedAt: Date
        public var limits: APILimits
        public var peers: PeerResolver
        /// Whether each user sees and acts on their own jobs only (jobs run as their
        /// submitters); root, the daemon's user and ``adminGroup``'s members see all.
        public var ownJobsOnly = false
        /// The group whose members administer jobqd as root does: every job, and the queues.
        public var adminGroup: UInt32?
        /// Where jobs' output is read when the store keeps it (several nodes share it); `nil`:
        /// from the log files of this host.
        public var storedOutput: (any StoredOutput)?
        /// The web dashboard's sign-in, when it is on (`nil`: its routes answer `dashboard_off`).
        public var dashboard: (any DashboardSignIn)?
        /// Long requests (wait, join, log follow, events) in progress, for `GET /metrics`.
        let longRequests = LongRequestCount()

        public init(engine: JobEngine, store: any JobStoring, logDirectory: String, startedAt: Date = Date(), limits: APILimits = APILimits(),
                    peers: PeerResolver = .socket) {
            self.engine = engine
            self.store = store
            self.logDirectory = logDirectory
            self.startedAt = startedAt
            self.limits = limits
            self.peers = peers
        }
    }

    /// Every route, in the order docs/api.md lists them (``routes`` names them for the
    /// OpenAPI test).
    public static func router(_ environment: Environment) -> Router<APIContext> {
        let router = Router(context: APIContext.self)
        router.middlewares.add(ErrorShapeMiddleware())
        router.get("healthz") { _, _ in HealthResponse(status: "ok") }
        router.get("metrics") { _, _ in try await Metrics.response(environment) }
        router.get("v1/status") { _, _ in try await StatusReport.current(environment) }
        JobRoutes.add(to: router, environment)
        LongRoutes.add(to: router, environment)
        QueueRoutes.add(to: router, environment)
        LeaseRoutes.add(to: router, environment)
        DashboardRoutes.add(to: router, environment)
        return router
    }

    /// The routes as `METHOD /path` with `{name}` parameters, as docs/openapi.yaml spells them.
    public static let routes: [String] = [
        "GET /healthz", "GET /metrics", "GET /v1/status",
        "POST /v1/jobs", "GET /v1/jobs", "GET /v1/jobs/{id}", "POST /v1/jobs/{id}/cancel", "POST /v1/jobs/{id}/retry",
        "PUT /v1/jobs/{id}/priority", "GET /v1/jobs/{id}/runs",
        "GET /v1/jobs/{id}/logs", "POST /v1/wait", "POST /v1/join", "GET /v1/events", "POST /v1/prune",
        "GET /v1/queues", "GET /v1/queues/{name}", "POST /v1/queues/{name}/pause", "POST /v1/queues/{name}/resume",
        "PUT /v1/queues/{name}/concurrency", "POST /v1/queues/{name}/join",
        "POST /v1/queues/{name}/lease", "POST /v1/leases/complete", "POST /v1/leases/{token}/heartbeat", "POST /v1/leases/{token}/complete",
        "POST /v1/leases/{token}/fail", "POST /v1/leases/{token}/release",
        "POST /v1/dashboard/links", "POST /v1/dashboard/sign-out-all",
    ]

    /// The methods of the routes whose pattern matches `path`, or `nil` when none does.
    static func methods(forPath path: String) -> [String]? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        let methods = routes.compactMap { route -> String? in
            let parts = route.split(separator: " ")
            let pattern = parts[1].split(separator: "/")
            guard pattern.count == segments.count else { return nil }
            let matches = zip(pattern, segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
            return matches ? String(parts[0]) : nil
        }
        return methods.isEmpty ? nil : methods
    }

    /// The API as a swift-service-lifecycle service on `listener`. `onListening` runs once the
    /// socket accepts connections (the daemon sets the socket's mode and group there).
    public static func service(
        _ environment: Environment,
        listener: APIListener,
        onListening: @escaping @Sendable () async throws -> Void,
        logger: Logger
    ) -> some Service {
        let responder = router(environment).buildResponder()
        return APIServer(
            listener: listener, limits: environment.limits,
            respond: { request, writer, channel, facts in
                var context = APIContext(source: .init(channel: channel, logger: logger))
                context.connection = facts
                var response: Response
                do {
                    response = try await responder.respond(to: request, context: context)
                } catch let error as HTTPParserError {
                    throw error
                } catch is CancellationError {
                    return  // a long request whose client went away: nobody to answer
                } catch {
                    // ErrorShapeMiddleware answers everything else; this is a last resort.
                    response = try APIError.internal("\(error)")
                        .response(from: request, context: context)
                }
                response.headers[.server] = "jobqd"
                try await writer.write(response: response.head, body: response.body)
            },
            engine: environment.engine, onListening: onListening, logger: logger)
    }
}

extension HealthResponse: ResponseEncodable {}
extension QueueInfo: ResponseEncodable {}
extension QueueList: ResponseEncodable {}
extension StatusReport: ResponseEncodable {}
extension SubmitResponse: ResponseEncodable {}
extension JobListResponse: ResponseEncodable {}
extension WaitResponse: ResponseEncodable {}
extension JoinResponse: ResponseEncodable {}
extension PruneResponse: ResponseEncodable {}
extension RunHistory: ResponseEncodable {}
extension LeaseResponse: ResponseGenerator {
    /// Written by ``Job/listJSON(_:)``, not `JSONEncoder` (see ``Job/compactJSON``).
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        jsonResponse(Job.listJSON(jobs, completed: completed))
    }
}

extension Job: ResponseGenerator {
    /// Written by ``Job/compactJSON``, not `JSONEncoder`.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        jsonResponse(compactJSON)
    }
}

/// A `200` with a JSON body written by hand.
func jsonResponse(_ json: String) -> Response {
    jsonResponse(ByteBuffer(string: json))
}

/// A `200` answer carrying JSON already written as UTF-8 bytes.
func jsonResponse(_ json: [UInt8]) -> Response {
    jsonResponse(ByteBuffer(bytes: json))
}

private func jsonResponse(_ body: ByteBuffer) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "application/json; charset=utf-8"
    return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
}
extension CompleteManyResponse: ResponseEncodable {}

extension QueueInfo {
    /// Every state with a count of 0.
    static let noJobs = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, 0) })

    /// The queues the engine runs and the queues with jobs in the store, by name.
    static func all(_ environment: JobAPI.Environment) async throws -> [QueueInfo] {
        let counts = try await storeCall { try await environment.store.counts() }
        let runtime = await environment.engine.queueStatus()
        let empty = noJobs
        var perQueue: [String: [String: Int]] = [:]
        for queue in counts {
            var states = empty
            for (state, count) in queue.counts { states[state.rawValue] = count }
            perQueue[queue.queue] = states
        }
        let byName = Dictionary(uniqueKeysWithValues: runtime.map { ($0.name, $0) })
        return Set(runtime.map(\.name)).union(perQueue.keys).sorted().map { name in
            let consumers = byName[name]?.servesConsumers ?? false
            return QueueInfo(name: name, concurrency: consumers ? 0 : byName[name]?.concurrency ?? 0, paused: byName[name]?.paused ?? false,
                             running: consumers ? perQueue[name]?["running"] ?? 0 : byName[name]?.running ?? 0, states: perQueue[name] ?? empty,
                             kind: consumers ? "payload" : "command", waitingConsumers: byName[name]?.waitingConsumers ?? 0)
        }
    }
}

extension StatusReport {
    /// Counts by state (all queues, and per queue), this daemon's workers busy and total,
    /// version, uptime, and the nodes that share a PostgreSQL store.
    static func current(_ environment: JobAPI.Environment) async throws -> StatusReport {
        let queues = try await QueueInfo.all(environment)
        let nodes = try await storeCall { try await environment.store.nodes() }
        var totals = QueueInfo.noJobs
        for queue in queues {
            for (state, count) in queue.states { totals[state, default: 0] += count }
        }
        return StatusReport(
            version: JobAPI.version,
            uptimeSeconds: (Date().timeIntervalSince(environment.startedAt) * 10).rounded() / 10,
            states: totals,
            workers: Workers(
                busy: queues.filter { $0.kind == "command" }.reduce(0) { $0 + $1.running },
                total: min(queues.reduce(0) { $0 + $1.concurrency }, environment.engine.maxRunning ?? .max),
                maxRunning: environment.engine.maxRunning),
            queues: queues, nodes: nodes)
    }
}
