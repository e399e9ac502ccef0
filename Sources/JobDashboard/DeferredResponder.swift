import Hummingbird
import JobBasics

/// The dashboard's responder, made once the listener is bound: the guard's Host check needs the
/// port, which the system picks when the address asks for port 0. Until then (a moment at start),
/// requests get 503.
final class DeferredResponder: HTTPResponder {
    typealias Context = WebContext

    private let inner = Locked<RouterResponder<WebContext>?>(nil)

    func set(_ responder: RouterResponder<WebContext>) {
        inner.withLock { $0 = responder }
    }

    func respond(to request: Request, context: WebContext) async throws -> Response {
        guard let responder = inner.withLock({ $0 }) else {
            throw WebError(.serviceUnavailable, "starting", "the dashboard is starting")
        }
        return try await responder.respond(to: request, context: context)
    }
}
