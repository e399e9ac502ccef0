import Hummingbird
import Logging
import NIOCore

/// The socket API answered in process for a user someone else has identified: the web
/// dashboard's only way to the jobs, so that a session sees and does exactly what its user may
/// on the socket (the same routes, the same visibility rules, the same errors).
public struct APIOnBehalf: Sendable {
    private let responder: RouterResponder<APIContext>
    private let logger: Logger

    public init(_ environment: JobAPI.Environment, logger: Logger) {
        responder = JobAPI.router(environment).buildResponder()
        self.logger = logger
    }

    /// The API's answer to `request` as `user` would get it on the socket. `channel` is the
    /// connection the request came on: when its pipeline holds ``JobAPI/connectionWatch()``,
    /// long requests (the event stream, a log follow) end when its client goes away or jobqd
    /// shuts down.
    public func respond(to request: Request, on channel: any Channel, as user: PeerCredentials) async throws -> Response {
        var context = APIContext(source: .init(channel: channel, logger: logger))
        let ended = try? await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: ConnectionWatch.self).ended
        }.get()
        context.connection = ConnectionFacts(peer: user, ended: ended ?? nil)
        return try await responder.respond(to: request, context: context)
    }
}

extension JobAPI {
    /// What `GET /metrics` answers now (Prometheus text), read in process: the dashboard samples
    /// it for its charts.
    public static func metricsText(_ environment: Environment) async throws -> String {
        try await Metrics.text(environment)
    }

    /// A handler for another HTTP server's pipeline that tells the API's long requests when
    /// their client goes away or the server quiesces, as on the socket.
    public static func connectionWatch() -> any RemovableChannelHandler {
        ConnectionWatch()
    }
}
