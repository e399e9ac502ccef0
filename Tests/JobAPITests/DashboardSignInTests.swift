import Foundation
import HTTPTypes
import HummingbirdTesting
import Hummingbird
import JobAPI
import JobEngine
import JobStore
import JobStoring
@testable import JobDashboard
import JobModel
import Testing

/// Signing in to the dashboard: one-time links, the session cookie, expiry and sign-out, and
/// the socket routes that make links and end sessions.
@Suite struct DashboardSignInTests {
    @Test func aLinkSignsInOnceWithAStrictHttpOnlyCookie() async throws {
        try await withDashboard { client, fixture in
            let link = try fixture.sessions.link(for: PeerCredentials(pid: 1, uid: 1000, gid: 1000))
            #expect(link.url.hasPrefix(DashboardFixture.base + "/sign-in?token="))
            #expect(link.expiresInSeconds == 60 && link.sessionSeconds == 43_200)
            let path = String(link.url.dropFirst(DashboardFixture.base.count))
            let first = try await client.execute(uri: path, method: .get, headers: [:], body: nil)
            #expect(first.status == .seeOther)
            #expect(first.headers[.location] == "/")
            let cookie = try #require(first.headers[.setCookie])
            let attributes = Set(cookie.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.dropFirst())
            #expect(attributes == ["Path=/", "Max-Age=43200", "HttpOnly", "SameSite=Strict"])
            #expect(!cookie.contains("Secure"), "served over plain http on loopback")
            let again = try await client.execute(uri: path, method: .get, headers: [:], body: nil)
            #expect(again.status == .unauthorized)
            #expect(webErrorCode(again) == "link_used")
            #expect(again.headers[.setCookie] == nil)
            let session = String(cookie.prefix { $0 != ";" })
            #expect(try await web(client, .get, "/", cookie: session).status == .ok)
        }
    }

    @Test func aLinkExpiresUnused() async throws {
        try await withDashboard { client, fixture in
            let link = try fixture.sessions.link(for: PeerCredentials(pid: 1, uid: 1000, gid: 1000))
            fixture.clock.advance(.seconds(61))
            let response = try await client.execute(uri: String(link.url.dropFirst(DashboardFixture.base.count)), method: .get, headers: [:], body: nil)
            #expect(response.status == .unauthorized)
            #expect(webErrorCode(response) == "link_used")
            let forged = try await client.execute(uri: "/sign-in?token=made-up", method: .get, headers: [:], body: nil)
            #expect(forged.status == .unauthorized)
        }
    }

    @Test func aSessionEndsAfterItsLifetimeOrOnSignOut() async throws {
        try await withDashboard { client, fixture in
            let cookie = try await fixture.signIn(client, uid: 1000)
            fixture.clock.advance(.seconds(12 * 3600 - 1))
            #expect(try await web(client, .get, "/jobs", cookie: cookie).status == .ok)
            fixture.clock.advance(.seconds(2))
            let expired = try await web(client, .get, "/jobs", cookie: cookie)
            #expect(expired.status == .unauthorized)
            #expect(webErrorCode(expired) == "not_signed_in")

            let other = try await fixture.signIn(client, uid: 1000)
            let out = try await web(client, .post, "/sign-out", cookie: other)
            #expect(out.status == .ok)
            #expect(out.headers[.setCookie]?.hasPrefix("jobq_session=; Path=/; Max-Age=0") == true)
            #expect(try await web(client, .get, "/", cookie: other).status == .unauthorized)
        }
    }

    @Test func signingOutAllEndsOneUsersSessionsOrEveryones() async throws {
        try await withDashboard { client, fixture in
            let alice = try await fixture.signIn(client, uid: 2001)
            let bob = try await fixture.signIn(client, uid: 2002)
            #expect(fixture.sessions.signOut(uid: 2001) == 1)
            #expect(try await web(client, .get, "/", cookie: alice).status == .unauthorized)
            #expect(try await web(client, .get, "/", cookie: bob).status == .ok)
            #expect(fixture.sessions.signOut(uid: nil) == 1)
            #expect(try await web(client, .get, "/", cookie: bob).status == .unauthorized)
        }
    }

    @Test func theSocketMakesLinksForItsCallerAndEndsSessions() async throws {
        try await withAPI { client, _ in
            try expectError(try await send(client, .post, "/v1/dashboard/links"), .conflict, "dashboard_off")
            try expectError(try await send(client, .post, "/v1/dashboard/sign-out-all"), .conflict, "dashboard_off")
        }
        let sessions = DashboardSessions()
        try await withEngineAndDashboardRoutes(sessions) { client in
            try expectError(try await send(client, .post, "/v1/dashboard/links"), .serviceUnavailable, "dashboard_starting")
            sessions.listening(at: "http://127.0.0.1:8377/")
            let link = try decode(DashboardLink.self, try await send(client, .post, "/v1/dashboard/links", uid: 2001))
            #expect(link.url.hasPrefix("http://127.0.0.1:8377/sign-in?token="))
            try expectError(try await send(client, .post, "/v1/dashboard/links", uid: nil), .forbidden, "forbidden")
            _ = try decode(DashboardLink.self, try await send(client, .post, "/v1/dashboard/links", uid: 2002))
            // A user ends their own; the daemon's user, everyone's.
            #expect(try decode(DashboardSignOut.self, try await send(client, .post, "/v1/dashboard/sign-out-all", uid: 2001)).ended == 1)
            _ = try decode(DashboardLink.self, try await send(client, .post, "/v1/dashboard/links", uid: 2001))
            #expect(try decode(DashboardSignOut.self, try await send(client, .post, "/v1/dashboard/sign-out-all", uid: daemonUID)).ended == 2)
        }
    }

    @Test func tooManyUnusedLinksAreRefusedUntilTheyExpire() throws {
        var book = SessionBook(maxLinks: 2)
        let user = PeerCredentials(pid: 1, uid: 5, gid: 5)
        try book.addLink("a", for: user, now: .seconds(0))
        try book.addLink("b", for: user, now: .seconds(1))
        #expect(throws: DashboardSignInError.tooManyLinks(2)) { try book.addLink("c", for: user, now: .seconds(2)) }
        try book.addLink("c", for: user, now: .seconds(61))
        #expect(book.redeem("a", session: "s", now: .seconds(62)) == nil, "expired")
        #expect(book.redeem("c", session: "s", now: .seconds(62)) == user)
        #expect(book.user(ofSession: "s", now: .seconds(63)) == user)
    }
}

/// The socket API's router with `sessions` as its dashboard.
private func withEngineAndDashboardRoutes(_ sessions: DashboardSessions, _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
    try await withEngine { environment, _ in
        var environment = environment
        environment.dashboard = sessions
        let app = Application(router: JobAPI.router(environment))
        try await app.test(.router) { client in try await body(client) }
    }
}
