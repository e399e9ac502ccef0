import Foundation
import HTTPTypes
import Hummingbird
import JobAPI
import JobModel

/// The socket API as the signed-in user, for the pages: JSON decoded into the API's own types;
/// an API refusal becomes a ``WebError`` with the API's status, code and message.
struct APICaller: Sendable {
    let api: APIOnBehalf

    /// `GET path` decoded as `T`.
    func get<T: Decodable>(_ path: String, as type: T.Type, _ context: WebContext) async throws -> T {
        try decode(T.self, try await call(.get, path, json: nil, context))
    }

    /// A change (`POST`, `PUT`) with a JSON body; the answer's bytes.
    @discardableResult
    func send(_ method: HTTPRequest.Method, _ path: String, json: String?, _ context: WebContext) async throws -> ByteBuffer {
        try await call(method, path, json: json, context)
    }

    private func call(_ method: HTTPRequest.Method, _ path: String, json: String?, _ context: WebContext) async throws -> ByteBuffer {
        guard let user = context.user else { throw WebError(.unauthorized, "not_signed_in", "You are not signed in.") }
        var head = HTTPRequest(method: method, scheme: nil, authority: nil, path: path)
        if json != nil { head.headerFields[.contentType] = "application/json" }
        let request = Request(head: head, body: RequestBody(buffer: ByteBuffer(string: json ?? "")))
        let response = try await api.respond(to: request, on: context.channel, as: user)
        let collected = BodyCollector.Box()
        try await response.body.write(BodyCollector(box: collected))
        let body = collected.buffer
        guard (200..<300).contains(response.status.code) else {
            let detail = try? JSONDecoder().decode(ErrorResponse.self, from: Data(body.readableBytesView))
            throw WebError(response.status, detail?.error.code ?? "http_\(response.status.code)",
                           detail?.error.message ?? "the API answered \(response.status.code)")
        }
        return body
    }

    private func decode<T: Decodable>(_ type: T.Type, _ body: ByteBuffer) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
        } catch {
            throw WebError(.internalServerError, "internal_error", "the API's answer could not be read: \(error)")
        }
    }
}

/// Collects a response body written in process.
private struct BodyCollector: ResponseBodyWriter {
    final class Box {
        var buffer = ByteBuffer()
    }

    let box: Box

    mutating func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        box.buffer.writeBuffer(&buffer)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
