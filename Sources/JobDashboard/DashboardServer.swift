import Foundation
import Hummingbird
import JobAPI
import Logging
import NIOCore
import ServiceLifecycle

/// Where and how the web dashboard is served (jobqd's `web`, `web_url` and
/// `web_allow_remote`).
public struct DashboardSettings: Hashable, Sendable {
    public var address: WebAddress
    /// The address people open, when a proxy stands in front (`https://jobs.example.com`):
    /// links name it, its host is accepted, and cookies are `Secure` when it is https.
    public var publicURL: String?

    public init(address: WebAddress, publicURL: String? = nil) {
        self.address = address
        self.publicURL = publicURL
    }

    /// The `Host` values the dashboard answers to: its own address (and `localhost` for a
    /// loopback one), and the public URL's host; nil (any) on a Unix socket without a public URL.
    func hosts(port: Int) -> Set<String>? {
        var hosts: Set<String> = []
        if let publicURL, let authority = Self.authority(of: publicURL) { hosts.insert(authority) }
        if case .tcp(let host, _) = address {
            hosts.insert(WebAddress.authority(host: host, port: port))
            if address.isLocal { hosts.formUnion(["localhost:\(port)", "127.0.0.1:\(port)", "[::1]:\(port)"]) }
        } else if publicURL == nil {
            return nil
        }
        return hosts
    }

    /// Whether `url` is `http(s)://AUTHORITY[/PATH]` with nothing a link cannot carry.
    public static func isURL(_ url: String) -> Bool {
        guard let authority = authority(of: url), url.utf8.count <= 2048 else { return false }
        return !authority.contains("@") && url.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F && $0 != "\"" && $0 != "<" && $0 != ">" }
    }

    /// `https://jobs.example.com/` → `jobs.example.com`.
    static func authority(of url: String) -> String? {
        guard let scheme = url.range(of: "://") else { return nil }
        let rest = url[scheme.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return authority.isEmpty ? nil : String(authority)
    }

    /// `https://jobs.example.com/x` → `https://jobs.example.com`.
    var publicOrigin: String? {
        guard let publicURL, let scheme = publicURL.range(of: "://"), let authority = Self.authority(of: publicURL) else { return nil }
        return String(publicURL[..<scheme.upperBound]) + authority
    }
}

/// The web dashboard: a Hummingbird application on its own listener, beside the API's socket.
public enum Dashboard {
    /// The dashboard's routes behind its guard, for the server and the tests.
    static func router(
        api: APIOnBehalf, sessions: DashboardSessions, settings: DashboardSettings, port: Int, activity: DashboardActivity = DashboardActivity()
    ) -> Router<WebContext> {
        let router = Router(context: WebContext.self)
        router.middlewares.add(WebGuard(sessions: sessions, hosts: settings.hosts(port: port),
                                        origins: Set([settings.publicOrigin].compactMap { $0 })))
        router.middlewares.add(APIPassThrough(api: api))
        WebRoutes.add(to: router, api: api, sessions: sessions, activity: activity, secureCookie: settings.publicURL?.hasPrefix("https://") == true)
        return router
    }

    /// How often the charts' sampler reads the metrics.
    static let sampleInterval: Duration = .seconds(5)

    /// The dashboard as a swift-service-lifecycle service, with the sampler of its charts. Once
    /// it listens, `sessions` learns the address its links name. A connection with no request in
    /// progress closes after the API's idle timeout, as on the socket.
    public static func service(
        _ settings: DashboardSettings, api environment: JobAPI.Environment, sessions: DashboardSessions, logger: Logger
    ) -> some Service {
        let api = APIOnBehalf(environment, logger: logger)
        let address: BindAddress
        let port: Int
        switch settings.address {
        case let .tcp(host, bound):
            address = .hostname(host == "localhost" ? "127.0.0.1" : host, port: bound)
            port = bound
        case .unix(let path):
            address = .unixDomainSocket(path: path)
            port = 0
        }
        let activity = DashboardActivity()
        let sampler = ActivitySampler(
            activity: activity, read: { try await JobAPI.metricsText(environment) }, interval: sampleInterval,
            now: DashboardSessions.uptime, logger: logger)
        // A port of 0 is chosen when the listener binds: the guard learns it then.
        let responder = DeferredResponder()
        return Application(
            responder: responder,
            server: .http1(configuration: .init(
                additionalChannelHandlers: [JobAPI.connectionWatch()],
                idleTimeout: .milliseconds(Int64(environment.limits.idleTimeout.components.seconds) * 1000))),
            configuration: ApplicationConfiguration(address: address, serverName: "jobqd"),
            services: [sampler],
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                responder.set(router(api: api, sessions: sessions, settings: settings, port: bound, activity: activity).buildResponder())
                let url: String
                if let publicURL = settings.publicURL {
                    url = publicURL
                } else if case .tcp(let host, _) = settings.address {
                    url = "http://" + WebAddress.authority(host: host, port: bound)
                } else {
                    url = ""
                }
                sessions.listening(at: url)
                logger.info("dashboard listening", metadata: ["address": "\(settings.address)", "url": "\(url)"])
            },
            logger: logger)
    }
}
