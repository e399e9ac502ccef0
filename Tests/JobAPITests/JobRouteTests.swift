import Foundation
import Hummingbird
import HummingbirdTesting
import JobAPI
import JobModel
import JobQueueTesting
import Testing

@Suite("Job routes")
struct JobRouteTests {
    @Test("GET /healthz answers ok")
    func health() async throws {
        try await withAPI { client, _ in
            let response = try await send(client, .get, "/healthz")
            #expect(response.status == .ok)
            #expect(try decode(HealthResponse.self, response).status == "ok")
        }
    }

    @Test("POST /v1/jobs stores one job (201) and records the caller's uid, not the body's")
    func submitOne() async throws {
        try await withAPI { client, _ in
            let job = try await submit(client, #"{"argv":["true"],"label":"x","submitter_uid":0}"#, uid: 4242)
            #expect(job.spec.submitterUID == 4242)
            #expect(job.spec.label == "x")
            let fetched = try decode(Job.self, try await send(client, .get, "/v1/jobs/\(job.id)"))
            #expect(fetched.id == job.id)
        }
    }

    @Test("POST /v1/jobs with Accept: text/plain answers each id on a line, and a refusal as `code: message`, with a Content-Length")
    func submitPlain() async throws {
        try await withAPI { client, _ in
            func post(_ json: String) async throws -> TestResponse {
                var headers = HTTPFields()
                headers[uidHeader] = "\(daemonUID)"
                headers[.accept] = "text/plain"
                headers[.contentType] = "application/json"
                return try await client.execute(uri: "/v1/jobs", method: .post, headers: headers, body: ByteBuffer(string: json))
            }
            let one = try await post(#"{"argv":["true"]}"#)
            #expect(one.status == .created)
            #expect(one.headers[.contentType] == "text/plain; charset=utf-8")
            let text = String(buffer: one.body)
            #expect(one.headers[.contentLength] == "\(text.utf8.count)")
            let id = try #require(JobID(text.dropLast()))
            #expect(text == "\(id)\n")
            let batch = String(buffer: try await post(#"{"jobs":[{"argv":["true"]},{"argv":["true"]}]}"#).body)
            #expect(batch == "\(id.rawValue + 1)\n\(id.rawValue + 2)\n")
            let refused = try await post(#"{"argv":[]}"#)
            #expect(refused.status == .badRequest)
            #expect(String(buffer: refused.body) == "invalid_request: argv must hold at least the program to run\n")
        }
    }

    @Test("POST /v1/jobs with a batch stores all of them, and a reused idempotency key answers 200 with the live job")
    func submitBatchAndIdempotency() async throws {
        try await withAPI { client, _ in
            let batch = try await send(client, .post, "/v1/jobs", json: #"{"jobs":[{"argv":["true"]},{"shell":"exit 0","queue":"q2"}]}"#)
            #expect(batch.status == .created)
            let items = try decode(SubmitResponse.self, batch).jobs
            #expect(items.count == 2)
            #expect(items.allSatisfy { $0.created })
            let first = try await send(client, .post, "/v1/jobs", json: #"{"argv":["sleep","5"],"idempotency_key":"k1"}"#)
            #expect(first.status == .created)
            let again = try await send(client, .post, "/v1/jobs", json: #"{"argv":["sleep","5"],"idempotency_key":"k1"}"#)
            #expect(again.status == .ok)
            let firstItem = try decode(SubmitResponse.self, first).jobs[0]
            let againItem = try decode(SubmitResponse.self, again).jobs[0]
            #expect(firstItem.created && firstItem.state == .queued && firstItem.job == nil)
            #expect(!againItem.created)
            #expect(againItem.id == firstItem.id)
            #expect(againItem.job?.spec.idempotencyKey == "k1")
            try await send(client, .post, "/v1/jobs/\(firstItem.id)/cancel")
        }
    }

    @Test("Bad submits get invalid_request or payload_too_large and store nothing", arguments: [
        ("not json", "{"),
        ("wrong type", #"{"argv":"true"}"#),
        ("missing command", #"{"queue":"q"}"#),
        ("empty argv", #"{"argv":[]}"#),
        ("unknown queue characters", #"{"argv":["true"],"queue":"a b/c"}"#),
        ("negative timeout", #"{"argv":["true"],"timeout_seconds":-1}"#),
        ("unknown field", #"{"argv":["true"],"colour":"red"}"#),
        ("retry without max_attempts", #"{"argv":["true"],"retry":{"backoff_seconds":5}}"#),
        ("empty batch", #"{"jobs":[]}"#),
        ("batch with one bad spec", #"{"jobs":[{"argv":["true"]},{"argv":[]}]}"#),
        ("over the body limit", #"{"argv":["\#(String(repeating: "x", count: 5000))"]}"#),
    ])
    func badSubmits(_ name: String, _ body: String) async throws {
        try await withAPI(maxBodyBytes: 4096) { client, _ in
            let response = try await send(client, .post, "/v1/jobs", json: body)
            if body.count > 4096 {
                try expectError(response, .contentTooLarge, "payload_too_large")
            } else {
                try expectError(response, .badRequest, "invalid_request")
            }
            #expect(try await allJobs(client).isEmpty, "\(name) changed the store")
        }
    }

    @Test("A missing field is named plainly, without Foundation's coding-key dump")
    func missingFieldMessage() async throws {
        try await withAPI { client, _ in
            let response = try await send(client, .post, "/v1/jobs", json: #"{"argv":["true"],"retry":{"backoff_seconds":5}}"#)
            try expectError(response, .badRequest, "invalid_request")
            #expect(try decode(ErrorResponse.self, response).error.message == "retry: missing 'max_attempts'")
        }
    }

    @Test("GET /v1/jobs/{id} and /runs: 404 not_found for an unknown id, 400 for a malformed one")
    func getErrors() async throws {
        try await withAPI { client, _ in
            try expectError(try await send(client, .get, "/v1/jobs/99"), .notFound, "not_found")
            try expectError(try await send(client, .get, "/v1/jobs/abc"), .badRequest, "invalid_request")
            try expectError(try await send(client, .get, "/v1/jobs/99/runs"), .notFound, "not_found")
            try expectError(try await send(client, .get, "/v1/jobs/abc/runs"), .badRequest, "invalid_request")
        }
    }

    @Test("GET /v1/jobs filters by state, queue and label, and pages with next_cursor")
    func listFiltersAndPages() async throws {
        try await withAPI { client, _ in
            try await send(client, .post, "/v1/queues/paused/pause")
            var ids: [JobID] = []
            for index in 0..<5 {
                ids.append(try await submit(client, #"{"argv":["true"],"queue":"paused","label":"l\#(index % 2)"}"#).id)
            }
            _ = try await submit(client, #"{"argv":["true"],"queue":"other"}"#)
            let page1 = try decode(JobListResponse.self, try await send(client, .get, "/v1/jobs?queue=paused&limit=2"))
            #expect(page1.jobs.map(\.id) == Array(ids[0..<2]))
            let cursor = try #require(page1.nextCursor)
            let page2 = try decode(JobListResponse.self, try await send(client, .get, "/v1/jobs?queue=paused&limit=10&after=\(cursor)"))
            #expect(page2.jobs.map(\.id) == Array(ids[2...]))
            #expect(page2.nextCursor == nil)
            let labelled = try decode(JobListResponse.self, try await send(client, .get, "/v1/jobs?label=l1"))
            #expect(labelled.jobs.map(\.id) == [ids[1], ids[3]])
            let queued = try decode(JobListResponse.self, try await send(client, .get, "/v1/jobs?state=queued&queue=paused"))
            #expect(queued.jobs.count == 5)
            let newest = try decode(JobListResponse.self, try await send(client, .get, "/v1/jobs?queue=paused&order=desc&limit=1"))
            #expect(newest.jobs.map(\.id) == [ids[4]])
            try expectError(try await send(client, .get, "/v1/jobs?state=sleeping"), .badRequest, "invalid_request")
            try expectError(try await send(client, .get, "/v1/jobs?limit=0"), .badRequest, "invalid_request")
            try expectError(try await send(client, .get, "/v1/jobs?after=x"), .badRequest, "invalid_request")
            try expectError(try await send(client, .get, "/v1/jobs?order=up"), .badRequest, "invalid_request")
            try expectError(try await send(client, .get, "/v1/jobs?queue=-bad"), .badRequest, "invalid_request")
        }
    }

    @Test("Cancel and retry: allowed to the submitter, the daemon's user and root; others get forbidden and change nothing")
    func cancelAndRetryAuthorization() async throws {
        try await withAPI { client, _ in
            try await send(client, .post, "/v1/queues/held/pause")
            let job = try await submit(client, #"{"argv":["true"],"queue":"held"}"#, uid: 2001)
            try expectError(try await send(client, .post, "/v1/jobs/\(job.id)/cancel", uid: 2002), .forbidden, "forbidden")
            try expectError(try await send(client, .post, "/v1/jobs/\(job.id)/cancel", uid: nil), .forbidden, "forbidden")
            #expect(try decode(Job.self, try await send(client, .get, "/v1/jobs/\(job.id)")).state == .queued)
            let cancelled = try await send(client, .post, "/v1/jobs/\(job.id)/cancel", uid: 2001)
            #expect(cancelled.status == .ok)
            #expect(try decode(Job.self, cancelled).state == .cancelled)
            #expect(try decode(Job.self, cancelled).error == "cancelled by uid 2001 with the API")
            // Cancelling a cancelled job again is done already: the job as it is, 200.
            let again = try await send(client, .post, "/v1/jobs/\(job.id)/cancel", uid: 2001)
            #expect(again.status == .ok)
            #expect(try decode(Job.self, again).state == .cancelled)
            try expectError(try await send(client, .post, "/v1/jobs/\(job.id)/retry", uid: 2002), .forbidden, "forbidden")
            let retried = try await send(client, .post, "/v1/jobs/\(job.id)/retry", uid: 0)
            #expect(try decode(Job.self, retried).state == .queued)
            try expectError(try await send(client, .post, "/v1/jobs/\(job.id)/retry", uid: 2001), .conflict, "conflict")
            #expect(try decode(Job.self, try await send(client, .post, "/v1/jobs/\(job.id)/cancel", uid: daemonUID)).state == .cancelled)
            try expectError(try await send(client, .post, "/v1/jobs/77/cancel"), .notFound, "not_found")
            try expectError(try await send(client, .post, "/v1/jobs/77/retry"), .notFound, "not_found")
        }
    }

    @Test("POST /v1/prune deletes finished jobs and their logs; only for the daemon's user and root")
    func prune() async throws {
        try await withAPI { client, _ in
            let job = try await submit(client, #"{"argv":["sh","-c","echo out"]}"#)
            let done = try await finished(client, job.id)
            let path = try #require(done.stdoutPath)
            #expect(FileManager.default.fileExists(atPath: path))
            try expectError(try await send(client, .post, "/v1/prune", json: #"{"older_than_seconds":0}"#, uid: 3000), .forbidden, "forbidden")
            try expectError(try await send(client, .post, "/v1/prune", json: #"{"older_than_seconds":-1}"#), .badRequest, "invalid_request")
            try expectError(try await send(client, .post, "/v1/prune", json: #"{}"#), .badRequest, "invalid_request")
            let kept = try decode(PruneResponse.self, try await send(client, .post, "/v1/prune", json: #"{"older_than_seconds":3600}"#))
            #expect(kept.pruned == 0)
            // An age older than the epoch prunes nothing (it trapped the daemon: found by schemathesis).
            let ancient = try decode(PruneResponse.self, try await send(client, .post, "/v1/prune", json: #"{"older_than_seconds":1e300}"#))
            #expect(ancient.pruned == 0)
            let pruned = try decode(PruneResponse.self, try await send(client, .post, "/v1/prune", json: #"{"older_than_seconds":0}"#))
            #expect(pruned.pruned == 1)
            #expect(!FileManager.default.fileExists(atPath: path))
            try expectError(try await send(client, .get, "/v1/jobs/\(job.id)"), .notFound, "not_found")
        }
    }

    @Test("A database locked past the busy timeout: submits get 507 storage_error, reads go on, and writes work once it is released")
    func storageError() async throws {
        try await withAPI(busyTimeout: .milliseconds(50)) { client, fixture in
            let before = try await submit(client, #"{"argv":["true"]}"#)
            // Another process (sqlite3 by hand, a backup tool) holds the write lock.
            let lock = try #require(try await HeldLock.sqliteWrite(fixture.directory + "/jobs.db"))
            try expectError(try await send(client, .post, "/v1/jobs", json: #"{"argv":["true"]}"#),
                            HTTPResponse.Status(code: 507), "storage_error")
            #expect(try await allJobs(client).map(\.id) == [before.id])
            #expect(await lock.release() == 0)
            let after = try await send(client, .post, "/v1/jobs", json: #"{"argv":["true"]}"#)
            #expect(after.status == .created)
        }
    }

    @Test("Unknown routes get not_found and wrong methods method_not_allowed, in the error shape")
    func unknownRoutes() async throws {
        try await withAPI { client, _ in
            try expectError(try await send(client, .get, "/v1/nothing"), .notFound, "not_found")
            let wrong = try await send(client, .delete, "/v1/jobs")
            try expectError(wrong, .methodNotAllowed, "method_not_allowed")
            // RFC 9110: a 405 lists the methods the route takes (schemathesis's ST204 found it missing).
            #expect(wrong.headers[.allow] == "POST, GET")
        }
    }
}
