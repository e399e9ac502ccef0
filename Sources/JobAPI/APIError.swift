import Foundation
import Hummingbird
import JobModel
import Logging

/// An API error: its HTTP status and the JSON body `{"error":{"code":"…","message":"…"}}`,
/// whose `code` is stable (clients and the CLI match on it).
public struct APIError: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// The methods a route takes, sent as `Allow` with a 405 (RFC 9110 §15.5.6).
    public var allow: [String]

    public init(_ status: HTTPResponse.Status, code: String, message: String, allow: [String] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.allow = allow
    }

    /// 400 `invalid_request`, with the field and the rule in `message`.
    static func invalid(_ message: String) -> APIError {
        APIError(.badRequest, code: "invalid_request", message: message)
    }

    /// 500 `internal_error`: the daemon could not do what it should have.
    static func `internal`(_ message: String) -> APIError {
        APIError(.internalServerError, code: "internal_error", message: message)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try JSONEncoder().encode(ErrorResponse(code: code, message: message))
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if !allow.isEmpty { headers[.allow] = allow.joined(separator: ", ") }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Gives every error the API's JSON shape: a route that does not exist, a method not allowed,
/// anything unexpected (500, logged).
struct ErrorShapeMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as HTTPError {
            if error.status == .notFound, let allowed = JobAPI.methods(forPath: request.uri.path), !allowed.isEmpty {
                throw APIError(.methodNotAllowed, code: "method_not_allowed",
                               message: "\(request.method) \(request.uri.path): use \(allowed.joined(separator: " or "))",
                               allow: allowed)
            }
            let code = switch error.status {
            case .notFound: "not_found"
            case .methodNotAllowed: "method_not_allowed"
            case .contentTooLarge: "payload_too_large"
            case .badRequest: "invalid_request"
            default: "http_\(error.status.code)"
            }
            throw APIError(error.status, code: code, message: error.body ?? "\(request.method) \(request.uri.path): \(error.status.reasonPhrase)")
        } catch {
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            throw APIError.internal("the daemon failed to answer: \(error)")
        }
    }
}
