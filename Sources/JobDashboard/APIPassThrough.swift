import Hummingbird
import JobAPI

/// `/api/…` is the socket API, answered as the signed-in user (``WebGuard`` has found them and
/// checked the origin of a change): the page script's event stream and job output come this way.
/// The dashboard's own socket routes are not passed on: a session cannot make sign-in links.
struct APIPassThrough: RouterMiddleware {
    typealias Context = WebContext

    let api: APIOnBehalf

    func handle(_ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard path.hasPrefix("/api/") else { return try await next(request, context) }
        guard let user = context.user else { throw WebError(.unauthorized, "not_signed_in", "You are not signed in.") }
        let inner = String(path.dropFirst("/api".count))
        if inner.hasPrefix("/v1/dashboard/") {
            throw WebError(.notFound, "not_found", "\(inner) is answered on jobqd's socket only")
        }
        var head = request.head
        let query = request.uri.query.map { "?" + $0 } ?? ""
        head.path = inner + query
        return try await api.respond(to: Request(head: head, body: request.body), on: context.channel, as: user)
    }
}
