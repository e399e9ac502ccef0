import Foundation
import Hummingbird
import NIOCore

/// Who is on the other end of a connection, from the kernel (`SO_PEERCRED`).
public struct PeerCredentials: Hashable, Sendable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

/// Finds the caller of a request. The daemon asks the kernel about the connection's socket;
/// route tests, whose requests do not come through a socket, supply their own.
public struct PeerResolver: Sendable {
    let resolve: @Sendable (APIContext, Request) -> PeerCredentials?

    public init(_ resolve: @escaping @Sendable (APIContext, Request) -> PeerCredentials?) {
        self.resolve = resolve
    }

    /// `SO_PEERCRED` of the connection's Unix socket, read once when it was accepted.
    public static let socket = PeerResolver { context, _ in context.connection?.peer }
}

/// What the accept loop learned about a connection when it accepted it, for every request on it.
public struct ConnectionFacts: Sendable {
    /// The peer's credentials (`nil` when the kernel would not say).
    var peer: PeerCredentials?
    /// Completed when the connection's long requests must end (its client left, or the daemon
    /// is shutting down).
    var ended: EventLoopFuture<ConnectionEnd>?
}

/// `struct ucred` of <sys/socket.h>, which Glibc's module hides behind `_GNU_SOURCE`.
struct UCred: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

extension PeerCredentials {
    init(_ credentials: UCred) {
        self.init(pid: credentials.pid, uid: credentials.uid, gid: credentials.gid)
    }
}

/// The request context of every route: Hummingbird's core storage and what the accept loop
/// learned of the connection (the caller's credentials, the end of its long requests); `nil`
/// for requests that do not come through the daemon's socket (the route tests').
public struct APIContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var connection: ConnectionFacts?

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
    }
}
