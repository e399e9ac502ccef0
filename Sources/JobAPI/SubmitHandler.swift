import HTTPTypes
import JobEngine
import JobModel
import NIOCore
import NIOHTTPTypes

/// `POST /v1/jobs`, the hottest route, served on its connection's event loop without a task or
/// the router: the body is read here, the engine's store commits it on its writer thread, and
/// the answer is written from the commit's completion, back on this loop: one hand-off each way.
/// Hummingbird's router serves every other request (and has its own `POST /v1/jobs` route, for
/// the route tests and the case below).
///
/// HTTP/1.1 answers a connection's requests in order, so the handler keeps to it: a submit that
/// arrives while Hummingbird still answers an earlier request goes on to Hummingbird too, and
/// requests that arrive while a submit commits wait here until its answer is written.
/// It sits after Hummingbird's connection-state handler, which so sees every request and
/// answer (its idle timeout and its close on quiesce count them).
final class SubmitHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// The request being received or answered.
    private enum Current {
        /// Between requests.
        case idle
        /// A request Hummingbird answers: its parts go on.
        case passedOn
        /// A submit's body is arriving (`tooLarge`: past the limit; the rest is dropped).
        case reading(HTTPRequest, body: ByteBuffer, tooLarge: Bool)
        /// A submit is being committed; `closeAfter` when its client asked to close after it.
        case answering(closeAfter: Bool)
    }

    private var current = Current.idle
    /// Requests passed on to Hummingbird whose answer's end has not gone out yet.
    private var unansweredPassedOn = 0
    /// Parts that arrived while a submit was being committed, in order.
    private var held: [HTTPRequestPart] = []
    private var removed = false
    private let engine: JobEngine
    private let maxBodyBytes: Int
    /// The connection's peer (`SO_PEERCRED`), set once it is known: the submitter of its jobs.
    var peer: PeerCredentials?

    init(engine: JobEngine, maxBodyBytes: Int) {
        self.engine = engine
        self.maxBodyBytes = maxBodyBytes
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        removed = true
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .answering = current {
            held.append(part)
        } else {
            receive(part, context: context)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // Only Hummingbird's answers come through here; the handler's own go out below it.
        if case .end = unwrapOutboundIn(data) { unansweredPassedOn -= 1 }
        context.write(data, promise: promise)
    }

    private func receive(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch (current, part) {
        case (.idle, .head(let head)) where unansweredPassedOn == 0 && Self.isSubmit(head):
            current = .reading(head, body: ByteBuffer(), tooLarge: false)
        case (.reading(let head, var body, let tooLarge), .body(var chunk)):
            current = .idle  // drops the buffer's second reference before it grows
            let over = tooLarge || body.readableBytes + chunk.readableBytes > maxBodyBytes
            if over { body.clear() } else { body.writeBuffer(&chunk) }
            current = .reading(head, body: body, tooLarge: over)
        case (.reading(let head, let body, let tooLarge), .end):
            submit(head, body: body, tooLarge: tooLarge, context: context)
        default:
            if case .head = part {
                unansweredPassedOn += 1
                current = .passedOn
            }
            context.fireChannelRead(wrapInboundOut(part))
            if case .end = part { current = .idle }
        }
    }

    /// `POST /v1/jobs`, with or without a query.
    private static func isSubmit(_ head: HTTPRequest) -> Bool {
        guard head.method == .post, let path = head.path else { return false }
        return path == "/v1/jobs" || path.hasPrefix("/v1/jobs?")
    }

    private func submit(_ head: HTTPRequest, body: ByteBuffer, tooLarge: Bool, context: ChannelHandlerContext) {
        let plain = head.headerFields[.accept] == "text/plain"
        current = .answering(closeAfter: head.headerFields[.connection] == "close")
        var specs: [JobSpec]
        do {
            if tooLarge {
                throw APIError(.contentTooLarge, code: "payload_too_large", message: "the request body is over \(maxBodyBytes) bytes")
            }
            specs = try SubmitAnswer.specs(of: body)
        } catch {
            let refusal = error as? APIError ?? APIError.internal("the daemon failed to read the request: \(error)")
            return answer(SubmitAnswer.refused(refusal, plain: plain), context: context)
        }
        // The kernel's word on who submits, not the body's.
        for index in specs.indices { specs[index].submitterUID = peer?.uid }
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        let loop = context.eventLoop
        engine.submit(specs) { result in
            let answer: SubmitAnswer
            switch result {
            case .success(let submitted):
                do {
                    answer = try SubmitAnswer.submitted(submitted, plain: plain)
                } catch {
                    answer = SubmitAnswer.refused(APIError.internal("the daemon failed to answer: \(error)"), plain: plain)
                }
            case .failure(let error):
                answer = SubmitAnswer.refused(APIError(error), plain: plain)
            }
            loop.execute { bound.value.handler.answer(answer, context: bound.value.context) }
        }
    }

    /// Writes the answer, then closes the connection if its client asked, or goes on with the
    /// requests that arrived meanwhile.
    private func answer(_ answer: SubmitAnswer, context: ChannelHandlerContext) {
        guard !removed, case .answering(let closeAfter) = current else { return }
        var fields = HTTPFields()
        fields[.contentType] = answer.contentType
        fields[.contentLength] = String(answer.body.readableBytes)
        fields[.server] = "jobqd"
        if closeAfter { fields[.connection] = "close" }
        context.write(wrapOutboundOut(.head(HTTPResponse(status: answer.status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(answer.body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        current = .idle
        if closeAfter {
            held.removeAll()
            context.close(promise: nil)
            return
        }
        if held.isEmpty { return }
        while !held.isEmpty {
            if case .answering = current { break }
            receive(held.removeFirst(), context: context)
        }
        // What was passed on reaches Hummingbird's channel (which takes reads in batches).
        context.fireChannelReadComplete()
    }
}
