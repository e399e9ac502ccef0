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
    let resolve: @Sendable (any Channel, Request) async -> PeerCredentials?

    public init(_ resolve: @escaping @Sendable (any Channel, Request) async -> PeerCredentials?) {
        self.resolve = resolve
    }

    /// `SO_PEERCRED` of the connection's Unix socket, read once when it was accepted.
    public static let socket = PeerResolver { channel, _ in
        ConnectionRegistry.shared.entry(for: channel)?.peer
    }
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

/// The request context of every route: Hummingbird's core storage and the connection's channel
/// (for the caller's credentials and for noticing that the client went away).
public struct APIContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        channel = source.channel
    }
}
