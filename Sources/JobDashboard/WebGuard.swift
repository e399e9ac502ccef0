import HTTPTypes
import Hummingbird

/// What every dashboard request passes first: the Host it names (so that a DNS-rebound name
/// cannot reach a loopback dashboard), the session cookie (every route but sign-in and the
/// assets), the origin of every state-changing request, and the security headers of every
/// answer, refusals included.
struct WebGuard: RouterMiddleware {
    typealias Context = WebContext

    let sessions: DashboardSessions
    /// The `Host` values accepted; nil accepts any (a Unix socket behind a proxy jobqd was not
    /// told of).
    let hosts: Set<String>?
    /// Origins that may send state changes besides the request's own (`web_url`'s).
    let origins: Set<String>

    static let cookie = "jobq_session"

    /// No inline script or style, nothing from another origin, no framing.
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        + "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    func handle(_ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await check(request, context: context, next: next)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        Self.secure(&response.headers)
        return response
    }

    private func check(_ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response) async throws -> Response {
        if let hosts, !hosts.contains(request.head.authority ?? "") {
            throw WebError(.misdirectedRequest, "wrong_host",
                           "this dashboard answers to \(hosts.sorted().joined(separator: " or ")), not '\(request.head.authority ?? "")'")
        }
        let path = request.uri.path
        if request.method != .get && request.method != .head {
            try checkOrigin(request)
        }
        if path == "/sign-in" || path.hasPrefix("/assets/") { return try await next(request, context) }
        guard let token = request.cookies[Self.cookie]?.value, let user = sessions.user(ofSession: token) else {
            throw WebError(.unauthorized, "not_signed_in", "You are not signed in, or your session has ended.")
        }
        var context = context
        context.user = user
        context.session = token
        return try await next(request, context)
    }

    /// A state change must name its origin, and it must be this dashboard: a form or script of
    /// another site cannot act with the user's cookie.
    private func checkOrigin(_ request: Request) throws {
        if let site = request.headers[.secFetchSite], site != "same-origin" {
            throw WebError(.forbidden, "cross_origin", "refused: a change asked from another site (Sec-Fetch-Site: \(site))")
        }
        guard let origin = request.headers[.origin] else {
            throw WebError(.forbidden, "origin_missing", "refused: a change must come with its Origin header, from the dashboard's own pages")
        }
        let own = (request.head.authority ?? "").isEmpty ? [] : ["http://", "https://"].map { $0 + (request.head.authority ?? "") }
        guard own.contains(origin) || origins.contains(origin) else {
            throw WebError(.forbidden, "cross_origin", "refused: a change asked from \(origin), not from the dashboard")
        }
    }

    static func secure(_ headers: inout HTTPFields) {
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[.referrerPolicy] = "same-origin"
        headers[.xFrameOptions] = "DENY"
        headers[.crossOriginOpenerPolicy] = "same-origin"
        headers[.crossOriginResourcePolicy] = "same-origin"
        if headers[.cacheControl] == nil { headers[.cacheControl] = "no-store" }
    }
}

extension HTTPField.Name {
    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let crossOriginOpenerPolicy = HTTPField.Name("Cross-Origin-Opener-Policy")!
    static let crossOriginResourcePolicy = HTTPField.Name("Cross-Origin-Resource-Policy")!
}
