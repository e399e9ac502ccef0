import Hummingbird
import JobAPI
import NIOCore

/// The request context of the dashboard's routes: Hummingbird's core storage, the connection
/// (for requests passed on to the API), and the signed-in user once ``WebGuard`` has found the
/// session.
public struct WebContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel
    /// The session's user; nil before ``WebGuard`` and on the routes open without a session.
    var user: PeerCredentials?
    /// The session's token, for signing out.
    var session: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        channel = source.channel
    }
}
