import Foundation
import HTTPTypes
import Hummingbird
import JobAPI
import JobModel

/// The dashboard's routes: sign-in and sign-out, the embedded assets, the pages, the forms that
/// change things (each a call to the API as the user, then back to the page), and `/api/…`, the
/// socket API itself for the page script.
enum WebRoutes {
    static func add(to router: Router<WebContext>, api: APIOnBehalf, sessions: DashboardSessions, activity: DashboardActivity, secureCookie: Bool) {
        let caller = APICaller(api: api)
        let statuses = StatusCache()
        router.get("sign-in") { request, _ -> Response in
            guard let token = request.uri.queryParameters["token"].map(String.init), let (session, _) = sessions.redeem(token) else {
                throw WebError(.unauthorized, "link_used", "This sign-in link was used already, has expired, or is not one jobqd made.")
            }
            var response = Response(status: .seeOther, headers: [.location: "/"])
            let lifetime = Int(sessions.sessionLifetime.components.seconds)
            response.headers[.setCookie] = "\(WebGuard.cookie)=\(session); Path=/; Max-Age=\(lifetime); HttpOnly; SameSite=Strict"
                + (secureCookie ? "; Secure" : "")
            return response
        }
        router.post("sign-out") { _, context -> Response in
            if let session = context.session { sessions.endSession(session) }
            var response = htmlResponse(PageLayout(title: "Signed out", section: nil, user: nil, live: false).render(
                "<h1>Signed out</h1>\n<p>Run <code>jobq dashboard</code> to sign in again.</p>"))
            response.headers[.setCookie] = "\(WebGuard.cookie)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
            return response
        }
        router.get("assets/:name") { _, context -> Response in
            guard let response = DashboardAssets.response(context.parameters.get("name") ?? "") else {
                throw WebError(.notFound, "not_found", "no such asset")
            }
            return response
        }
        router.get("/") { _, context -> Response in
            guard let user = context.user else { throw WebError(.unauthorized, "not_signed_in", "You are not signed in.") }
            let status = try await statuses.status(for: user) { try await caller.get("/v1/status", as: StatusReport.self, context) }
            let page = OverviewPage.render(status, charts: ActivityCharts.render(activity.current))
            return PageLayout(title: "Overview", section: .overview, user: context.user).response(page)
        }
        router.get("queues") { _, context -> Response in
            let queues = try await caller.get("/v1/queues", as: QueueList.self, context)
            return PageLayout(title: "Queues", section: .queues, user: context.user).response(QueuesPage.render(queues.queues))
        }
        router.get("consumers") { _, context -> Response in
            let queues = try await caller.get("/v1/queues", as: QueueList.self, context).queues.filter { $0.kind == "payload" }
            var sections: [(queue: QueueInfo, leased: JobListResponse)] = []
            for queue in queues {
                let path = "/v1/jobs?queue=\(queue.name)&state=running&limit=\(ConsumersPage.maxLeases)"
                sections.append((queue, try await caller.get(path, as: JobListResponse.self, context)))
            }
            return PageLayout(title: "Consumers", section: .consumers, user: context.user).response(ConsumersPage.render(sections))
        }
        for action in ["pause", "resume"] {
            router.post("queues/:name/\(action)") { _, context -> Response in
                let name = try queueName(context)
                try await caller.send(.post, "/v1/queues/\(name)/\(action)", json: nil, context)
                return back(to: "/queues")
            }
        }
        router.post("queues/:name/concurrency") { request, context -> Response in
            let name = try queueName(context)
            let form = try await formFields(request)
            guard let text = form["concurrency"], let count = Int(text) else {
                throw WebError(.badRequest, "invalid_request", "concurrency: give a whole number of workers")
            }
            try await caller.send(.put, "/v1/queues/\(name)/concurrency", json: "{\"concurrency\":\(count)}", context)
            return back(to: "/queues")
        }
        router.get("jobs") { request, context -> Response in
            let parameters = request.uri.queryParameters.map { (String($0.key), String($0.value)) }
            let query = try JobsQuery(parameters)
            if let text = parameters.first(where: { $0.0 == "q" })?.1, let job = JobID(text.trimmingCharacters(in: .whitespaces)) {
                return back(to: "/jobs/\(job)")
            }
            let page = try await caller.get(query.apiPath, as: JobListResponse.self, context)
            return PageLayout(title: "Jobs", section: .jobs, user: context.user).response(JobsPage.render(page, query))
        }
        router.get("jobs/:id") { _, context -> Response in
            let id = try jobID(context)
            let job = try await caller.get("/v1/jobs/\(id)", as: Job.self, context)
            let runs = try await caller.get("/v1/jobs/\(id)/runs", as: RunHistory.self, context)
            let dependents = try await caller.get("/v1/jobs?runs_after=\(id)&limit=\(JobPage.maxDependents)", as: JobListResponse.self, context)
            return PageLayout(title: "Job \(id)", section: .jobs, user: context.user)
                .response(JobPage.render(job, runs: runs.runs, dependents: dependents))
        }
        for action in ["cancel", "retry"] {
            router.post("jobs/:id/\(action)") { _, context -> Response in
                let id = try jobID(context)
                try await caller.send(.post, "/v1/jobs/\(id)/\(action)", json: nil, context)
                return back(to: "/jobs/\(id)")
            }
        }
    }

    /// After a change: the page again, by GET (303), so that a reload does not repeat it.
    static func back(to path: String) -> Response {
        Response(status: .seeOther, headers: [.location: path])
    }

    static func queueName(_ context: WebContext) throws -> String {
        let name = context.parameters.get("name") ?? ""
        guard JobSpec.isValidQueueName(name) else { throw WebError(.badRequest, "invalid_request", "'\(name)' is not a queue name") }
        return name
    }

    static func jobID(_ context: WebContext) throws -> JobID {
        let text = context.parameters.get("id") ?? ""
        guard let id = JobID(text) else { throw WebError(.badRequest, "invalid_request", "'\(text)' is not a job id") }
        return id
    }

    /// An `application/x-www-form-urlencoded` body of at most 4 KiB, as names and values.
    static func formFields(_ request: Request) async throws -> [String: String] {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: 4096)
        } catch {
            throw WebError(.contentTooLarge, "payload_too_large", "a form is at most 4096 bytes")
        }
        var components = URLComponents()
        components.percentEncodedQuery = String(buffer: body).replacingOccurrences(of: "+", with: "%20")
        var fields: [String: String] = [:]
        for item in components.queryItems ?? [] { fields[item.name] = item.value ?? "" }
        return fields
    }
}
