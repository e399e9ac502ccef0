import Foundation
import JobBasics
import JobModel
import NIOCore
import NIOHTTP1
import NIOPosix

/// Why a request to the daemon did not succeed.
public enum JobClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Nothing answers on the socket: it is missing, refused, or not allowed.
    case unreachable(socket: String, reason: String)
    /// The daemon took the connection, then it broke or closed before the answer was whole
    /// (the daemon was killed or stopped, or it refused the connection past its limit).
    case connectionLost(socket: String, reason: String)
    /// The daemon answered with an error: its HTTP status and the API's stable code.
    case refused(status: Int, code: String, message: String)
    /// The daemon's answer could not be read.
    case badResponse(String)

    public var description: String {
        switch self {
        case .unreachable(let socket, let reason), .connectionLost(let socket, let reason):
            SocketErrors.unreachable(socket: socket, reason: reason)
        case .refused(_, let code, let message):
            "\(message) (\(code))"
        case .badResponse(let message):
            "unexpected answer from jobqd: \(message)"
        }
    }

    /// What went wrong, without the socket's name: the reason, or the daemon's message.
    public var reason: String {
        switch self {
        case .unreachable(_, let reason), .connectionLost(_, let reason): reason
        case .refused(_, _, let message): message
        case .badResponse: description
        }
    }
}

/// A client of the jobq API on its Unix socket (HTTP/1.1 over SwiftNIO). Each call opens a
/// connection; ``withConnection(_:)`` keeps one open for a sequence of calls.
///
/// ```swift
/// let client = JobClient(socketPath: "/run/jobq/jobq.sock")
/// let id = try await client.submit(JobSpec(command: .argv(["make", "test"]))).jobs[0].id
/// let result = try await client.wait(for: [id])
/// ```
public struct JobClient: Sendable {
    public let socketPath: String

    public init(socketPath: String) {
        self.socketPath = socketPath
    }

    /// Runs `body` with one connection, closed when it returns.
    public func withConnection<T>(_ body: (inout Connection) async throws -> T) async throws -> T {
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(unixDomainSocketPath: socketPath) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw JobClientError.unreachable(socket: socketPath, reason: Self.explain(error))
        }
        do {
            return try await channel.executeThenClose { inbound, outbound in
                var connection = Connection(socketPath: socketPath, iterator: inbound.makeAsyncIterator(), outbound: outbound)
                return try await body(&connection)
            }
        } catch let error as JobClientError {
            throw error
        } catch let error as CancellationError {
            throw error
        } catch let error as DecodingError {
            throw JobClientError.badResponse("\(error)")
        } catch {
            throw JobClientError.connectionLost(socket: socketPath, reason: "the connection broke: \(Self.explain(error))")
        }
    }

    static func explain(_ error: any Error) -> String {
        if let error = error as? IOError {
            return SocketErrors.reason(errno: error.errnoCode)
        }
        if let error = error as? ChannelError, case .eof = error { return "the daemon closed the connection" }
        return "\(error)"
    }

    // MARK: One request per connection

    /// Sends one request and decodes the answer.
    public func call<Response: Decodable>(
        _ method: HTTPMethod, _ path: String, body: (some Encodable)? = Optional<Empty>.none, as type: Response.Type
    ) async throws -> Response {
        try await withConnection { try await $0.call(method, path, body: body, as: type) }
    }

    /// Submits jobs, all or none; the answer comes once they are durable.
    public func submit(_ specs: [JobSpec]) async throws -> SubmitResponse {
        try await withConnection { try await $0.submit(specs) }
    }

    public func submit(_ spec: JobSpec) async throws -> SubmitResponse {
        try await submit([spec])
    }

    /// A one-time sign-in link to the web dashboard for the caller.
    public func dashboardLink() async throws -> DashboardLink {
        try await call(.POST, "/v1/dashboard/links", as: DashboardLink.self)
    }

    /// Ends the caller's dashboard sessions (everyone's, for an administrator).
    public func signOutOfDashboard() async throws -> DashboardSignOut {
        try await call(.POST, "/v1/dashboard/sign-out-all", as: DashboardSignOut.self)
    }

    public func job(_ id: JobID) async throws -> Job {
        try await call(.GET, "/v1/jobs/\(id)", as: Job.self)
    }

    /// The ended runs of the job's command, oldest first, with what each used.
    public func runs(of id: JobID) async throws -> [RunRecord] {
        try await call(.GET, "/v1/jobs/\(id)/runs", as: RunHistory.self).runs
    }

    /// One page of jobs, oldest first (or newest first with `descending`).
    public func jobs(
        states: [JobState] = [], queue: String? = nil, label: String? = nil, user: String? = nil, after: JobID? = nil,
        limit: Int = 100, descending: Bool = false
    ) async throws -> JobListResponse {
        var query: [(String, String)] = [("limit", "\(limit)")]
        if let user { query.append(("user", user)) }
        if !states.isEmpty { query.append(("state", states.map(\.rawValue).joined(separator: ","))) }
        if let queue { query.append(("queue", queue)) }
        if let label { query.append(("label", label)) }
        if let after { query.append(("after", "\(after)")) }
        if descending { query.append(("order", "desc")) }
        return try await call(.GET, "/v1/jobs?" + Self.encode(query), as: JobListResponse.self)
    }

    public func cancel(_ id: JobID) async throws -> Job {
        try await call(.POST, "/v1/jobs/\(id)/cancel", as: Job.self)
    }

    public func retry(_ id: JobID) async throws -> Job {
        try await call(.POST, "/v1/jobs/\(id)/retry", as: Job.self)
    }

    /// Waits until every job is terminal, or `timeout` seconds (`nil`: no limit).
    public func wait(for ids: [JobID], timeout: Double? = nil) async throws -> WaitResponse {
        try await call(.POST, "/v1/wait", body: WaitRequest(ids: ids, timeoutSeconds: timeout), as: WaitResponse.self)
    }

    /// Waits until no job of `queue` (of any queue when `nil`) is queued, blocked or running.
    public func join(queue: String? = nil, timeout: Double? = nil) async throws -> JoinResponse {
        let path = queue.map { "/v1/queues/\(Self.encode($0))/join" } ?? "/v1/join"
        return try await call(.POST, path, body: JoinRequest(timeoutSeconds: timeout), as: JoinResponse.self)
    }

    public func status() async throws -> StatusReport {
        try await call(.GET, "/v1/status", as: StatusReport.self)
    }

    public func health() async throws -> HealthResponse {
        try await call(.GET, "/healthz", as: HealthResponse.self)
    }

    public func queues() async throws -> [QueueInfo] {
        try await call(.GET, "/v1/queues", as: QueueList.self).queues
    }

    public func queue(_ name: String) async throws -> QueueInfo {
        try await call(.GET, "/v1/queues/\(Self.encode(name))", as: QueueInfo.self)
    }

    public func pause(_ name: String) async throws -> QueueInfo {
        try await call(.POST, "/v1/queues/\(Self.encode(name))/pause", as: QueueInfo.self)
    }

    public func resume(_ name: String) async throws -> QueueInfo {
        try await call(.POST, "/v1/queues/\(Self.encode(name))/resume", as: QueueInfo.self)
    }

    public func setConcurrency(_ name: String, _ concurrency: Int) async throws -> QueueInfo {
        try await call(.PUT, "/v1/queues/\(Self.encode(name))/concurrency",
                       body: ConcurrencyRequest(concurrency: concurrency), as: QueueInfo.self)
    }

    public func setPriority(_ id: JobID, _ priority: Int) async throws -> Job {
        try await call(.PUT, "/v1/jobs/\(id)/priority", body: PriorityRequest(priority: priority), as: Job.self)
    }

    public func prune(olderThan seconds: Double) async throws -> PruneResponse {
        try await call(.POST, "/v1/prune", body: PruneRequest(olderThanSeconds: seconds), as: PruneResponse.self)
    }

    /// The Prometheus text of `GET /metrics`.
    public func metrics() async throws -> String {
        try await withConnection { connection in
            var text = ""
            try await connection.stream(.GET, "/metrics") { text += String(buffer: $0) }
            return text
        }
    }

    /// A job's output (`stream` is `out` or `err`), chunk by chunk; with `follow`, until the job
    /// is terminal.
    public func logs(
        _ id: JobID, stream: String = "out", follow: Bool = false, tail: Int? = nil, attempt: Int? = nil,
        _ chunk: (Data) async throws -> Void
    ) async throws {
        let last = (tail.map { "&tail=\($0)" } ?? "") + (attempt.map { "&attempt=\($0)" } ?? "")
        try await withConnection { connection in
            try await connection.stream(.GET, "/v1/jobs/\(id)/logs?stream=\(stream)&follow=\(follow)\(last)") {
                try await chunk(Data($0.readableBytesView))
            }
        }
    }

    /// Job changes as they happen (`GET /v1/events`), each given to `body` until it returns
    /// `false` or the calling task is cancelled. `connected` runs once the daemon has
    /// subscribed: every change after it is delivered.
    public func events(
        queue: String? = nil, connected: () async -> Void = {}, _ body: (JobEvent) async throws -> Bool
    ) async throws {
        try await withConnection { connection in
            var parser = EventStreamParser()
            let path = "/v1/events" + (queue.map { "?queue=\(Self.encode($0))" } ?? "")
            try await connection.stream(.GET, path, onHead: connected) { buffer in
                for event in parser.feed(buffer) {
                    if try await !body(event) { throw StopStreaming() }
                }
            }
        }
    }

    struct StopStreaming: Error {}

    static func encode(_ query: [(String, String)]) -> String {
        query.map { "\($0.0)=\(encode($0.1))" }.joined(separator: "&")
    }

    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

/// An empty body, for calls that send none.
public struct Empty: Codable, Sendable {}

/// A job change from `GET /v1/events`: `submitted`, `started`, `requeued` or `finished`.
public struct JobEvent: Hashable, Sendable {
    public var kind: String
    public var job: Job
}

/// Splits a server-sent event stream into events.
struct EventStreamParser {
    private var pending = ""

    mutating func feed(_ buffer: ByteBuffer) -> [JobEvent] {
        pending += String(buffer: buffer)
        var events: [JobEvent] = []
        while let end = pending.range(of: "\n\n") {
            let block = pending[..<end.lowerBound]
            pending.removeSubrange(..<end.upperBound)
            var kind = "message"
            var data = ""
            for line in block.split(separator: "\n") {
                if line.hasPrefix("event: ") { kind = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data += line.dropFirst(6) }
            }
            if let job = try? JSONDecoder().decode(Job.self, from: Data(data.utf8)) {
                events.append(JobEvent(kind: kind, job: job))
            }
        }
        return events
    }
}

extension JobClient {
    /// One open connection: requests go one after another on it (HTTP/1.1 keep-alive).
    public struct Connection {
        let socketPath: String
        var iterator: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
        let outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>

        /// Sends a request and decodes a 2xx answer as `type`; an error answer throws
        /// ``JobClientError/refused(status:code:message:)``.
        public mutating func call<Response: Decodable>(
            _ method: HTTPMethod, _ path: String, body: (some Encodable)? = Optional<Empty>.none, as type: Response.Type
        ) async throws -> Response {
            let data = try await exchange(method, path, body: body.map { try JSONEncoder().encode($0) })
            return try JSONDecoder().decode(Response.self, from: data)
        }

        /// Submits jobs, all or none; the answer comes once they are durable.
        public mutating func submit(_ specs: [JobSpec]) async throws -> SubmitResponse {
            var body = Data()
            if specs.count == 1 {
                body = Data(specs[0].compactJSON.utf8)
            } else {
                body.append(contentsOf: #"{"jobs":["#.utf8)
                for (index, spec) in specs.enumerated() {
                    if index > 0 { body.append(UInt8(ascii: ",")) }
                    body.append(contentsOf: spec.compactJSON.utf8)
                }
                body.append(contentsOf: "]}".utf8)
            }
            return try JSONDecoder().decode(SubmitResponse.self, from: try await exchange(.POST, "/v1/jobs", body: body))
        }

        /// Sends a request and reads the whole answer; an error answer throws
        /// ``JobClientError/refused(status:code:message:)``.
        mutating func exchange(_ method: HTTPMethod, _ path: String, body: Data?) async throws -> Data {
            let status = try await send(method, path, body: body)
            let data = try await readBody()
            try Self.check(status, data)
            return data
        }

        /// Sends a request and gives each chunk of a 2xx answer's body to `chunk` as it arrives.
        public mutating func stream(
            _ method: HTTPMethod, _ path: String, onHead: () async -> Void = {}, _ chunk: (ByteBuffer) async throws -> Void
        ) async throws {
            let status = try await send(method, path, body: nil)
            if !(200..<300).contains(status) {
                try Self.check(status, try await readBody())
            }
            await onHead()
            do {
                while let part = try await iterator.next() {
                    switch part {
                    case .body(let buffer): try await chunk(buffer)
                    case .end: return
                    case .head: throw JobClientError.badResponse("a second response head")
                    }
                }
            } catch is StopStreaming {
                return
            }
            throw JobClientError.connectionLost(socket: socketPath, reason: "the daemon closed the connection mid-answer")
        }

        /// Writes the request and reads the answer's head; returns its status.
        mutating func send(_ method: HTTPMethod, _ path: String, body: Data?) async throws -> Int {
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
            head.headers.add(name: "Host", value: "jobqd")
            // Tells the daemon the request comes from jobq (it names it in a cancel's reason).
            head.headers.add(name: "User-Agent", value: "jobq/\(JobqVersion.current)")
            if let body {
                head.headers.add(name: "Content-Type", value: "application/json")
                head.headers.add(name: "Content-Length", value: "\(body.count)")
            } else if method != .GET {
                head.headers.add(name: "Content-Length", value: "0")
            }
            if let body {
                try await outbound.write(contentsOf: [
                    .head(head), .body(.byteBuffer(ByteBuffer(bytes: body))), .end(nil),
                ])
            } else {
                try await outbound.write(contentsOf: [.head(head), .end(nil)])
            }
            guard let part = try await iterator.next() else {
                throw JobClientError.connectionLost(socket: socketPath, reason: "the daemon closed the connection without an answer")
            }
            guard case .head(let response) = part else { throw JobClientError.badResponse("no response head") }
            return Int(response.status.code)
        }

        mutating func readBody() async throws -> Data {
            var data = Data()
            while let part = try await iterator.next() {
                switch part {
                case .body(let buffer): data.append(contentsOf: buffer.readableBytesView)
                case .end: return data
                case .head: throw JobClientError.badResponse("a second response head")
                }
            }
            throw JobClientError.connectionLost(socket: socketPath, reason: "the daemon closed the connection mid-answer")
        }

        static func check(_ status: Int, _ data: Data) throws {
            if (200..<300).contains(status) { return }
            if let error = try? JSONDecoder().decode(ErrorResponse.self, from: data) {
                throw JobClientError.refused(status: status, code: error.error.code, message: error.error.message)
            }
            throw JobClientError.refused(status: status, code: "http_\(status)", message: String(decoding: data, as: UTF8.self))
        }
    }
}
