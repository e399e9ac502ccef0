import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Hummingbird
import JobAPI
import JobEngine
import JobStore
import JobStoring
@testable import JobDashboard
import JobBasics
import JobModel
import Logging
import NIOCore
import Testing

/// A manual monotonic clock for the dashboard's sessions.
final class ManualUptime: Sendable {
    private let now = Locked<Duration>(.seconds(1000))

    var reading: @Sendable () -> Duration { { [now] in now.withLock { $0 } } }

    func advance(_ duration: Duration) {
        now.withLock { $0 += duration }
    }
}

/// What a dashboard test works with: the engine's fixture, the sessions and their clock.
struct DashboardFixture: Sendable {
    let api: APIFixture
    let sessions: DashboardSessions
    let clock: ManualUptime

    /// A session cookie (`jobq_session=…`) for `uid`, through a link and the sign-in route.
    func signIn(_ client: any TestClientProtocol, uid: UInt32) async throws -> String {
        let link = try sessions.link(for: PeerCredentials(pid: 1, uid: uid, gid: uid))
        let path = String(link.url.dropFirst(DashboardFixture.base.count))
        let response = try await client.execute(uri: path, method: .get, headers: [:], body: nil)
        #expect(response.status == .seeOther)
        let cookie = try #require(response.headers[.setCookie])
        return String(cookie.prefix { $0 != ";" })
    }

    /// The address links name in the tests.
    static let base = "http://dashboard.test"
}

/// The dashboard in front of a real engine, served over TCP (HummingbirdTesting's live mode),
/// with the API's callers identified as the dashboard identifies them (its sessions).
func withDashboard<T: Sendable>(
    ownJobsOnly: Bool = false,
    settings: DashboardSettings = DashboardSettings(address: .unix(path: "/unused")),
    port: Int = 0,
    _ body: @escaping @Sendable (any TestClientProtocol, DashboardFixture) async throws -> T
) async throws -> T {
    try await withEngine(ownJobsOnly: ownJobsOnly, peers: .socket) { environment, fixture in
        let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let clock = ManualUptime()
        let sessions = DashboardSessions(now: clock.reading)
        sessions.listening(at: DashboardFixture.base)
        var environment = environment
        environment.dashboard = sessions
        let router = Dashboard.router(api: APIOnBehalf(environment, logger: quiet), sessions: sessions, settings: settings, port: port)
        let app = Application(router: router, logger: quiet)
        let dashboard = DashboardFixture(api: fixture, sessions: sessions, clock: clock)
        return try await app.test(.live) { client in try await body(client, dashboard) }
    }
}

/// A request with the session cookie, and for a change, the dashboard's own origin; `form` is
/// sent as a form, `body` as it is.
@discardableResult
func web(
    _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ path: String, cookie: String?,
    origin: String? = "http://localhost", form: String? = nil, headers extra: HTTPFields = [:], body: String? = nil
) async throws -> TestResponse {
    var headers = extra
    if let cookie { headers[.cookie] = cookie }
    if method != .get, let origin { headers[.origin] = origin }
    if form != nil { headers[.contentType] = "application/x-www-form-urlencoded" }
    return try await client.execute(uri: path, method: method, headers: headers, body: (form ?? body).map { ByteBuffer(string: $0) })
}

/// The body as text.
func text(_ response: TestResponse) -> String {
    String(buffer: response.body)
}

/// The stable code a dashboard page or `/api/` answer carries.
func webErrorCode(_ response: TestResponse) -> String? {
    let body = text(response)
    if let json = try? JSONDecoder().decode(ErrorResponse.self, from: Data(body.utf8)) { return json.error.code }
    guard let start = body.range(of: "data-code=\"") else { return nil }
    return String(body[start.upperBound...].prefix { $0 != "\"" })
}

/// Submits `spec` as its submitter would, straight to the engine.
func submitted(_ fixture: DashboardFixture, _ spec: JobSpec) async throws -> JobID {
    try await fixture.api.engine.submit([spec])[0].job.id
}
