import Foundation
import Hummingbird
import JobEngine
import HummingbirdCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOExtras
import NIOHTTPTypes
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Where the API listens.
public enum APIListener: Hashable, Sendable {
    /// Bind a new socket at the path (prepared with ``SocketFile/prepare(_:)`` first); the daemon
    /// sets its mode and group, and removes it when it stops.
    case path(String)
    /// Serve a socket systemd already bound and passed (`LISTEN_FDS`); `path` is only for the log.
    case descriptor(Int32, path: String?)
}

/// The limits that keep one client from holding the daemon.
public struct APILimits: Hashable, Sendable {
    /// The largest request body accepted (`payload_too_large` above it).
    public var maxBodyBytes: Int
    /// The largest header block accepted (the connection gets 400 and is closed above it).
    public var maxHeaderBytes: Int
    /// Connections served at once; more are closed as they arrive.
    public var maxConnections: Int
    /// A connection with no request in progress, or one whose request head does not arrive, is
    /// closed after this long.
    public var idleTimeout: Duration

    public init(maxBodyBytes: Int = 1 << 20, maxHeaderBytes: Int = 16 << 10, maxConnections: Int = 4096,
                idleTimeout: Duration = .seconds(60)) {
        self.maxBodyBytes = maxBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
    }
}

/// The API's listener, as a swift-service-lifecycle `Service`: Hummingbird's HTTP/1.1 channel
/// and router, on an accept loop of our own so that it can serve a socket-activated descriptor,
/// count connections, and tell long requests when their client goes away.
///
/// On graceful shutdown it stops accepting and asks every connection to quiesce (NIOExtras'
/// `ServerQuiescingHelper`): idle ones close, a request in progress finishes (long waits and
/// streams end with `shutting_down`), then the service returns.
struct APIServer: Service {
    let listener: APIListener
    let limits: APILimits
    /// Answers one request, given what the accept loop learned of its connection.
    let respond: @Sendable (Request, consuming ResponseWriter, any Channel, ConnectionFacts) async throws -> Void
    /// Whose store ``SubmitHandler`` submits to.
    let engine: JobEngine
    let onListening: @Sendable () async throws -> Void
    let logger: Logger

    func run() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        // One task executor per event loop of the group, for the connections on that loop.
        var executors: [ObjectIdentifier: EventLoopTaskExecutor] = [:]
        for loop in group.makeIterator() { executors[ObjectIdentifier(loop)] = EventLoopTaskExecutor(loop) }
        let configuration = HTTP1Channel.Configuration(
            additionalChannelHandlers: [ConnectionWatch()],
            idleTimeout: TimeAmount.nanoseconds(Int64(limits.idleTimeout.components.seconds) * 1_000_000_000
                + limits.idleTimeout.components.attoseconds / 1_000_000_000),
            httpDecoderConfiguration: .init(
                maxHeaderFieldSize: limits.maxHeaderBytes, maxHeaderListSize: limits.maxHeaderBytes, maxHeaderFieldCount: 100))
        // The pipeline's set-up; each connection is then served with a responder of its own,
        // which hands its requests what was learned at accept time.
        let http = HTTP1Channel(responder: { _, _, _ in }, configuration: configuration)
        let quiesce = ServerQuiescingHelper(group: group)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        let (logger, engine, maxBodyBytes) = (self.logger, self.engine, limits.maxBodyBytes)
        // Each accepted connection: Hummingbird's HTTP/1.1 pipeline with the submit handler
        // after its connection-state handler, and what the routes need to know about it (the
        // peer's credentials, the watch's future), read once on its event loop so that
        // requests find them without a hop.
        let setup: @Sendable (any Channel) -> EventLoopFuture<Accepted> = { channel in
            http.setup(channel: channel, logger: logger).flatMap { value in
                let submit = SubmitHandler(engine: engine, maxBodyBytes: maxBodyBytes)
                do {
                    let operations = channel.pipeline.syncOperations
                    try operations.addHandler(submit, position: .after(operations.handler(type: HTTPConnectionStateHandler.self)))
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
                let ended = try? channel.pipeline.syncOperations.handler(type: ConnectionWatch.self).ended
                guard let provider = channel as? any SocketOptionProvider else {
                    return channel.eventLoop.makeSucceededFuture(Accepted(value: value, facts: ConnectionFacts(ended: ended)))
                }
                let credentials: EventLoopFuture<UCred> = provider.unsafeGetSocketOption(
                    level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
                let loopBound = NIOLoopBound(submit, eventLoop: channel.eventLoop)
                return credentials.map { credentials in
                    let peer = PeerCredentials(credentials)
                    loopBound.value.peer = peer
                    return Accepted(value: value, facts: ConnectionFacts(peer: peer, ended: ended))
                }
                .recover { _ in Accepted(value: value, facts: ConnectionFacts(ended: ended)) }
            }
        }
        let server: NIOAsyncChannel<Accepted, Never>
        switch listener {
        case .path(let path):
            server = try await bootstrap.bind(unixDomainSocketPath: path, childChannelInitializer: setup)
        case .descriptor(let fd, _):
            server = try await bootstrap.bind(NIOBSDSocket.Handle(fd), childChannelInitializer: setup)
        }
        try await onListening()
        let active = ConnectionCount()
        let maxConnections = limits.maxConnections
        let respond = self.respond
        await withGracefulShutdownHandler {
            // The accept loop runs on the listening channel's event loop, so that an accepted
            // connection reaches it without a thread switch.
            await withTaskExecutorPreference(executors[ObjectIdentifier(server.channel.eventLoop)]) {
                await withDiscardingTaskGroup { tasks in
                    do {
                        try await server.executeThenClose { connections in
                            for try await accepted in connections {
                                let connection = accepted.value
                                guard active.value.add(1, ordering: .relaxed).newValue <= maxConnections else {
                                    active.value.subtract(1, ordering: .relaxed)
                                    logger.warning("connection refused: too many connections", metadata: ["max": "\(maxConnections)"])
                                    // Through the async channel, so that its writer is finished
                                    // (NIO traps on one dropped unfinished).
                                    try? await connection.executeThenClose { _, _ in }
                                    continue
                                }
                                let facts = accepted.facts
                                let served = HTTP1Channel(
                                    responder: { request, writer, channel in try await respond(request, writer, channel, facts) },
                                    configuration: configuration)
                                tasks.addTask(executorPreference: executors[ObjectIdentifier(connection.channel.eventLoop)]) {
                                    await served.handle(value: connection, logger: logger)
                                    active.value.subtract(1, ordering: .relaxed)
                                }
                            }
                        }
                    } catch is CancellationError {
                        // The service group is stopping (another service failed): nothing to report.
                    } catch {
                        logger.error("the API stopped accepting connections", metadata: ["error": "\(error)"])
                    }
                }
            }
        } onGracefulShutdown: {
            quiesce.initiateShutdown(promise: nil)
        }
    }
}

/// A connection as the accept loop gets it.
struct Accepted: Sendable {
    var value: HTTP1Channel.Value
    var facts: ConnectionFacts
}

/// Connections being served now.
final class ConnectionCount: Sendable {
    let value = Atomic<Int>(0)
}

/// Long requests in progress: each holds a connection until its condition, its timeout, or its
/// client's departure.
final class LongRequestCount: Sendable {
    let value = Atomic<Int>(0)

    /// Counts `body` as one long request while it runs.
    func during<T>(_ body: () async throws -> T) async rethrows -> T {
        value.add(1, ordering: .relaxed)
        defer { value.subtract(1, ordering: .relaxed) }
        return try await body()
    }

    var current: Int { value.load(ordering: .relaxed) }
}

/// Why a long request ended before its condition held.
enum ConnectionEnd: Sendable {
    /// The client closed the connection (or its sending half).
    case clientLeft
    /// The daemon is shutting down.
    case shuttingDown
}

/// Watches one connection for its client going away and for the daemon's quiesce request, so
/// that long requests (wait, join, log follow, events) end at once instead of holding on.
final class ConnectionWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    private var promise: EventLoopPromise<ConnectionEnd>?

    /// Completed once, with the first reason the connection's long requests must end.
    var ended: EventLoopFuture<ConnectionEnd>? { promise?.futureResult }

    func handlerAdded(context: ChannelHandlerContext) {
        promise = context.eventLoop.makePromise(of: ConnectionEnd.self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        promise?.succeed(.clientLeft)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise?.succeed(.clientLeft)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent {
            promise?.succeed(.clientLeft)
        } else if event is ChannelShouldQuiesceEvent {
            promise?.succeed(.shuttingDown)
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Waits for `ended`, or returns `nil` at once when the calling task is cancelled
    /// (`EventLoopFuture.get()` would not return before the future completes).
    static func wait(for ended: EventLoopFuture<ConnectionEnd>) async -> ConnectionEnd? {
        let (stream, sink) = AsyncStream<ConnectionEnd>.makeStream()
        ended.whenComplete { result in
            if case .success(let end) = result { sink.yield(end) }
            sink.finish()
        }
        for await end in stream { return end }
        return nil
    }
}
