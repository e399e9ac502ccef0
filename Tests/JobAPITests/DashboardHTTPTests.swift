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

/// The dashboard over HTTP: every route behind a session, the origin check on changes, the
/// security headers, the query rules, the visibility of each user's jobs, and the pages' actions.
@Suite struct DashboardHTTPTests {
    /// Every page, form and API path the dashboard serves.
    static let guarded: [(HTTPRequest.Method, String)] = [
        (.get, "/"), (.get, "/queues"), (.get, "/jobs"), (.get, "/jobs/1"), (.get, "/consumers"), (.post, "/queues/default/pause"),
        (.post, "/queues/default/resume"), (.post, "/queues/default/concurrency"), (.post, "/jobs/1/cancel"),
        (.post, "/jobs/1/retry"), (.post, "/sign-out"), (.get, "/api/v1/status"), (.get, "/api/v1/events"),
        (.get, "/api/v1/jobs"), (.post, "/api/v1/jobs"),
    ]

    @Test func everyRouteIsRefusedWithoutASession() async throws {
        try await withDashboard { client, _ in
            for cookie in [nil, "jobq_session=made-up"] {
                for (method, path) in Self.guarded {
                    let response = try await web(client, method, path, cookie: cookie)
                    #expect(response.status == .unauthorized, "\(method) \(path)")
                    #expect(webErrorCode(response) == "not_signed_in", "\(method) \(path)")
                }
            }
            // The sign-in route and the assets are open.
            #expect(try await web(client, .get, "/assets/dashboard.css", cookie: nil).status == .ok)
            #expect(try await web(client, .get, "/assets/dashboard.js", cookie: nil).status == .ok)
        }
    }

    @Test func everyAnswerCarriesTheSecurityHeaders() async throws {
        try await withDashboard { client, fixture in
            let cookie = try await fixture.signIn(client, uid: daemonUID)
            for response in [
                try await web(client, .get, "/", cookie: cookie), try await web(client, .get, "/", cookie: nil),
                try await web(client, .get, "/assets/dashboard.js", cookie: nil), try await web(client, .get, "/api/v1/status", cookie: cookie),
                try await web(client, .get, "/jobs?limit=0", cookie: cookie),
            ] {
                #expect(response.headers[.contentSecurityPolicy] == "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                    + "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
                #expect(response.headers[.xContentTypeOptions] == "nosniff")
                #expect(response.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
                #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "same-origin")
            }
            let page = text(try await web(client, .get, "/", cookie: cookie))
            #expect(!page.contains("<script>") && !page.contains("style=") && !page.contains(" on"), "no inline script or style")
        }
    }

    @Test func aChangeMustComeFromTheDashboardsOwnOrigin() async throws {
        try await withDashboard { client, fixture in
            let cookie = try await fixture.signIn(client, uid: daemonUID)
            let missing = try await web(client, .post, "/queues/default/pause", cookie: cookie, origin: nil)
            #expect(missing.status == .forbidden)
            #expect(webErrorCode(missing) == "origin_missing")
            let foreign = try await web(client, .post, "/queues/default/pause", cookie: cookie, origin: "http://evil.example")
            #expect(foreign.status == .forbidden)
            #expect(webErrorCode(foreign) == "cross_origin")
            let site = try await web(client, .post, "/api/v1/queues/default/pause", cookie: cookie,
                                     headers: [HTTPField.Name("Sec-Fetch-Site")!: "cross-site"])
            #expect(site.status == .forbidden)
            #expect(webErrorCode(site) == "cross_origin")
            #expect(await fixture.api.engine.queueStatus().first { $0.name == "default" }?.paused != true, "nothing changed")
            let allowed = try await web(client, .post, "/queues/default/pause", cookie: cookie)
            #expect(allowed.status == .seeOther)
            #expect(allowed.headers[.location] == "/queues")
            #expect(await fixture.api.engine.queueStatus().first { $0.name == "default" }?.paused == true)
        }
    }

    @Test func badQueryParametersAreRefusedWithTheirName() async throws {
        try await withDashboard { client, fixture in
            let cookie = try await fixture.signIn(client, uid: daemonUID)
            for (query, words) in [
                ("limit=1000000000", "limit: must be a whole number from 1 to 200"), ("limit=-1", "limit:"),
                ("after=-5", "after: '-5' is not a job id"), ("sort=name", "unknown filter 'sort'"),
                ("state=sleeping", "state: 'sleeping' is not one of"), ("queue=.x", "queue: '.x' is not a queue name"),
                ("q=\(String(repeating: "x", count: 300))", "q: look for at most 256 characters of text"),
            ] {
                let response = try await web(client, .get, "/jobs?\(query)", cookie: cookie)
                #expect(response.status == .badRequest, "\(query)")
                #expect(webErrorCode(response) == "invalid_request", "\(query)")
                #expect(text(response).contains(HTML.escape(words)), "\(query): \(text(response))")
            }
            let api = try await web(client, .get, "/api/v1/jobs?limit=1000000000", cookie: cookie)
            #expect(api.status == .badRequest)
            #expect(webErrorCode(api) == "invalid_request")
        }
    }

    @Test func eachUserSeesAndChangesWhatTheSocketAllowsThem() async throws {
        try await withDashboard(ownJobsOnly: true) { client, fixture in
            let mine = try await submitted(fixture, JobSpec(command: .argv(["sleep", "30"]), label: "alice-job", submitterUID: 2001))
            let theirs = try await submitted(fixture, JobSpec(command: .argv(["sleep", "30"]), label: "bob-job", submitterUID: 2002))
            let alice = try await fixture.signIn(client, uid: 2001)
            let list = text(try await web(client, .get, "/jobs", cookie: alice))
            #expect(list.contains("alice-job") && !list.contains("bob-job"))
            #expect(try await web(client, .get, "/jobs/\(theirs)", cookie: alice).status == .notFound)
            #expect(try await web(client, .get, "/api/v1/jobs/\(theirs)", cookie: alice).status == .notFound)
            #expect(try await web(client, .post, "/jobs/\(theirs)/cancel", cookie: alice).status == .notFound)
            let pause = try await web(client, .post, "/queues/default/pause", cookie: alice)
            #expect(pause.status == .forbidden)
            #expect(webErrorCode(pause) == "forbidden")
            #expect(try await web(client, .get, "/jobs/\(mine)", cookie: alice).status == .ok)
            #expect(try await web(client, .post, "/jobs/\(mine)/cancel", cookie: alice).status == .seeOther)
            #expect(try await fixture.api.store.job(mine)?.state == .cancelled)

            let admin = try await fixture.signIn(client, uid: daemonUID)
            let all = text(try await web(client, .get, "/jobs", cookie: admin))
            #expect(all.contains("alice-job") && all.contains("bob-job"))
            #expect(try await web(client, .post, "/jobs/\(theirs)/cancel", cookie: admin).status == .seeOther)
        }
    }

    @Test func thePagesActionsChangeQueuesAndJobs() async throws {
        try await withDashboard { client, fixture in
            let cookie = try await fixture.signIn(client, uid: daemonUID)
            let id = try await submitted(fixture, JobSpec(command: .argv(["sleep", "30"]), label: "<script>alert(1)</script>"))
            let page = text(try await web(client, .get, "/jobs/\(id)", cookie: cookie))
            #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !page.contains("<script>alert"))
            #expect(page.contains("action=\"/jobs/\(id)/cancel\""))
            #expect(try await web(client, .post, "/jobs/\(id)/cancel", cookie: cookie).headers[.location] == "/jobs/\(id)")
            #expect(try await fixture.api.store.job(id)?.state == .cancelled)
            #expect(text(try await web(client, .get, "/jobs/\(id)", cookie: cookie)).contains("action=\"/jobs/\(id)/retry\""))
            #expect(try await web(client, .post, "/jobs/\(id)/retry", cookie: cookie).status == .seeOther)
            #expect(try await fixture.api.store.job(id)?.state.isTerminal == false)

            let set = try await web(client, .post, "/queues/default/concurrency", cookie: cookie, form: "concurrency=5")
            #expect(set.status == .seeOther)
            #expect(await fixture.api.engine.queueStatus().first { $0.name == "default" }?.concurrency == 5)
            let wrong = try await web(client, .post, "/queues/default/concurrency", cookie: cookie, form: "concurrency=5000")
            #expect(wrong.status == .badRequest)
            #expect(text(wrong).contains("concurrency: must be a whole number from 1 to 1024"))
            #expect(try await web(client, .post, "/queues/default/pause", cookie: cookie).status == .seeOther)
            #expect(text(try await web(client, .get, "/queues", cookie: cookie)).contains("action=\"/queues/default/resume\""))
            #expect(try await web(client, .post, "/queues/default/resume", cookie: cookie).status == .seeOther)
            #expect(await fixture.api.engine.queueStatus().first { $0.name == "default" }?.paused == false)
            _ = try await fixture.api.engine.cancel(id, reason: "test over")
        }
    }

    @Test func jobsArePagedNewestFirstByCursor() async throws {
        try await withDashboard { client, fixture in
            let cookie = try await fixture.signIn(client, uid: daemonUID)
            try await fixture.api.engine.pause("default")
            var ids: [JobID] = []
            for index in 0..<5 { ids.append(try await submitted(fixture, JobSpec(command: .argv(["true"]), label: "job-\(index)"))) }
            let first = text(try await web(client, .get, "/jobs?limit=2", cookie: cookie))
            #expect(first.contains("job-4") && first.contains("job-3") && !first.contains("job-2"))
            let next = try #require(first.range(of: "href=\"/jobs?limit=2&amp;after=").map { first[$0.upperBound...].prefix { $0 != "\"" } })
            let second = text(try await web(client, .get, "/jobs?limit=2&after=\(next)", cookie: cookie))
            #expect(second.contains("job-2") && second.contains("job-1") && !second.contains("job-3"))
            let opened = try await web(client, .get, "/jobs?q=\(ids[0])", cookie: cookie)
            #expect(opened.status == .seeOther && opened.headers[.location] == "/jobs/\(ids[0])")
        }
    }

    @Test func jobsAreFoundByTheirCommandAndShowTheirDependents() async throws {
        try await withDashboard { client, fixture in
            let cookie = try await fixture.signIn(client, uid: daemonUID)
            try await fixture.api.engine.pause("default")
            let build = try await submitted(fixture, JobSpec(command: .argv(["make", "Build"])))
            let test = try await submitted(fixture, JobSpec(command: .argv(["make", "test"]), after: [build]))
            let found = text(try await web(client, .get, "/jobs?q=make%20build", cookie: cookie))
            #expect(found.contains("href=\"/jobs/\(build)\"") && !found.contains("href=\"/jobs/\(test)\""))
            #expect(found.contains("value=\"make build\""), "the search box keeps its text")
            let page = text(try await web(client, .get, "/jobs/\(build)", cookie: cookie))
            #expect(page.contains("<dt>Then runs</dt><dd><a href=\"/jobs/\(test)\">\(test)</a>"))
            #expect(text(try await web(client, .get, "/jobs/\(test)", cookie: cookie)).contains("<dt>Runs after</dt><dd><a href=\"/jobs/\(build)\">"))
            let api = try await web(client, .get, "/api/v1/jobs?runs_after=x", cookie: cookie)
            #expect(api.status == .badRequest)
        }
    }

    @Test func theConsumersViewShowsLeasesWithoutTheirTokens() async throws {
        try await withDashboard { client, fixture in
            let cookie = try await fixture.signIn(client, uid: daemonUID)
            #expect(text(try await web(client, .get, "/consumers", cookie: cookie)).contains("No queue holds payload jobs"))
            let id = try await submitted(fixture, JobSpec(command: .payload(.string("hello")), queue: "mail"))
            let leased = try await web(client, .post, "/api/v1/queues/mail/lease", cookie: cookie,
                                       headers: [.contentType: "application/json"], body: #"{"consumer":"mailer-7","lease_seconds":300}"#)
            #expect(leased.status == .ok, "\(text(leased))")
            let token = try #require(try decode(LeaseResponse.self, leased).jobs.first?.lease?.token)
            let page = text(try await web(client, .get, "/consumers", cookie: cookie))
            #expect(page.contains("<section data-queue=\"mail\">") && page.contains("href=\"/jobs/\(id)\"") && page.contains("mailer-7"))
            #expect(!page.contains(token.description), "a lease token acts on its job: not shown")
        }
    }

    @Test func theSocketsOwnRoutesAreNotPassedOn() async throws {
        try await withDashboard { client, fixture in
            let cookie = try await fixture.signIn(client, uid: daemonUID)
            let response = try await web(client, .post, "/api/v1/dashboard/links", cookie: cookie)
            #expect(response.status == .notFound)
            #expect(try await web(client, .get, "/api/v1/status", cookie: cookie).status == .ok)
        }
    }

    @Test func aLoopbackDashboardAnswersOnlyToItsOwnHost() async throws {
        let settings = DashboardSettings(address: .tcp(host: "127.0.0.1", port: 8377))
        #expect(settings.hosts(port: 8377) == ["127.0.0.1:8377", "localhost:8377", "[::1]:8377"])
        #expect(DashboardSettings(address: .unix(path: "/run/jobq/web.sock")).hosts(port: 0) == nil)
        #expect(DashboardSettings(address: .unix(path: "/run/jobq/web.sock"), publicURL: "https://jobs.example.com/").hosts(port: 0) == ["jobs.example.com"])
        try await withDashboard(settings: settings, port: 8377) { client, _ in
            // The test client names `localhost` without the port: a rebound name would look so.
            let response = try await web(client, .get, "/assets/dashboard.css", cookie: nil)
            #expect(response.status == .misdirectedRequest)
            #expect(webErrorCode(response) == "wrong_host")
        }
    }

    @Test func webAddressesAreParsedAndJudged() throws {
        #expect(try WebAddress(parsing: "127.0.0.1:8377") == .tcp(host: "127.0.0.1", port: 8377))
        #expect(try WebAddress(parsing: "[::1]:0") == .tcp(host: "::1", port: 0))
        #expect(try WebAddress(parsing: "/run/jobq/web.sock") == .unix(path: "/run/jobq/web.sock"))
        #expect(try WebAddress(parsing: "localhost:8377").isLocal)
        #expect(try !WebAddress(parsing: "0.0.0.0:8377").isLocal)
        #expect(try !WebAddress(parsing: "192.168.1.5:80").isLocal)
        for bad in ["8377", "example.com:80", "127.0.0.1:70000", "[::1:80", "127.0.0.1:", "relative/path"] {
            #expect(throws: WebAddressError.self, "\(bad)") { try WebAddress(parsing: bad) }
        }
    }
}
