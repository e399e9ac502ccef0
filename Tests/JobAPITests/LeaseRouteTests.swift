import Foundation
import HTTPTypes
import HummingbirdTesting
import JobEngine
import JobModel
import Testing

/// The consumers' routes through Hummingbird's testing client: every route and error code.
@Suite("Lease routes")
struct LeaseRouteTests {
    func lease(_ client: any TestClientProtocol, _ queue: String = "mail", _ body: String = "{}") async throws -> [Job] {
        let response = try await send(client, .post, "/v1/queues/\(queue)/lease", json: body)
        #expect(response.status == .ok)
        return try decode(LeaseResponse.self, response).jobs
    }

    @Test("Put a payload, lease it with a token and an expiry, heartbeat, complete with a result, complete again: the same job")
    func happyPath() async throws {
        try await withAPI { client, _ in
            let job = try await submit(client, #"{"queue":"mail","payload":{"to":"ann","n":[1,2.5,null,true]}}"#)
            #expect(job.spec.command == .payload(.object(["to": .string("ann"), "n": .array([.integer(1), .number(2.5), .null, .bool(true)])])))
            let leased = try await lease(client, "mail", #"{"max":10,"lease_seconds":30,"consumer":"worker-1"}"#)
            let lease = try #require(leased.first?.lease)
            #expect(leased.map(\.id) == [job.id] && lease.consumer == "worker-1" && lease.token.description == "\(job.id).1")
            let beat = try await send(client, .post, "/v1/leases/\(lease.token)/heartbeat", json: #"{"lease_seconds":120}"#)
            #expect(beat.status == .ok)
            #expect(try decode(Job.self, beat).lease!.expiresAt > lease.expiresAt)
            let done = try await send(client, .post, "/v1/leases/\(lease.token)/complete", json: #"{"result":{"sent":true}}"#)
            #expect(done.status == .ok)
            let completed = try decode(Job.self, done)
            #expect(completed.state == .succeeded && completed.result == .object(["sent": .bool(true)]) && completed.consumer == "worker-1")
            let again = try await send(client, .post, "/v1/leases/\(lease.token)/complete", json: #"{"result":{"sent":true}}"#)
            #expect(again.status == .ok)
            #expect(try decode(Job.self, again) == completed)
            // The queue says what it is.
            let queue = try decode(QueueInfo.self, try await send(client, .get, "/v1/queues/mail"))
            #expect(queue.kind == "payload" && queue.states["succeeded"] == 1)
        }
    }

    @Test("Stale tokens get 409 lease_lost; fail retries then fails; release does not count; unknown jobs are 404")
    func refusals() async throws {
        try await withAPI { client, _ in
            let job = try await submit(client, #"{"queue":"mail","payload":1,"retry":{"max_attempts":2,"backoff_seconds":0}}"#)
            var token = try #require(try await lease(client).first?.lease?.token)
            let released = try await send(client, .post, "/v1/leases/\(token)/release", json: "{}")
            #expect(released.status == .ok)
            #expect(try decode(Job.self, released).attempts == 0)
            try expectError(try await send(client, .post, "/v1/leases/\(token)/complete", json: "{}"), .conflict, "lease_lost")
            token = try #require(try await lease(client).first?.lease?.token)
            let failed = try await send(client, .post, "/v1/leases/\(token)/fail", json: #"{"error":"smtp down"}"#)
            #expect(try decode(Job.self, failed).state == .queued)
            try expectError(try await send(client, .post, "/v1/leases/\(token)/heartbeat", json: "{}"), .conflict, "lease_lost")
            token = try #require(try await lease(client).first?.lease?.token)
            #expect(try decode(Job.self, try await send(client, .post, "/v1/leases/\(token)/fail", json: "{}")).state == .failed)
            try expectError(try await send(client, .post, "/v1/leases/\(job.id).9/complete", json: "{}"), .conflict, "lease_lost")
            try expectError(try await send(client, .post, "/v1/leases/999.1/complete", json: "{}"), .notFound, "not_found")
            try expectError(try await send(client, .post, "/v1/leases/abc/complete", json: "{}"), .badRequest, "invalid_request")
        }
    }

    @Test("Bad requests: out-of-range max, wait and lease, unknown fields, a command queue, kinds mixed in a queue")
    func badRequests() async throws {
        try await withAPI { client, _ in
            for body in [#"{"max":0}"#, #"{"max":1001}"#, #"{"wait_seconds":31}"#, #"{"lease_seconds":0}"#,
                         #"{"lease_seconds":50000}"#, #"{"consumer":""}"#, #"{"colour":"red"}"#, #"{"max":null}"#] {
                try expectError(try await send(client, .post, "/v1/queues/mail/lease", json: body), .badRequest, "invalid_request")
            }
            try expectError(try await send(client, .post, "/v1/queues/.bad/lease", json: "{}"), .badRequest, "invalid_request")
            _ = try await submit(client, #"{"argv":["true"],"queue":"build"}"#)
            try expectError(try await send(client, .post, "/v1/queues/build/lease", json: "{}"), .conflict, "wrong_queue_kind")
            try expectError(try await send(client, .post, "/v1/jobs", json: #"{"queue":"build","payload":{}}"#), .conflict, "wrong_queue_kind")
            _ = try await submit(client, #"{"queue":"mail","payload":"x"}"#)
            try expectError(try await send(client, .post, "/v1/jobs", json: #"{"queue":"mail","argv":["true"]}"#), .conflict, "wrong_queue_kind")
            for body in [#"{"payload":1,"argv":["true"]}"#, #"{"queue":"mail","payload":1,"cwd":"/tmp"}"#,
                         #"{"queue":"mail","payload":1,"timeout_seconds":5}"#, #"{"queue":"mail","payload":null}"#] {
                try expectError(try await send(client, .post, "/v1/jobs", json: body), .badRequest, "invalid_request")
            }
            let token = try #require(try await lease(client).first?.lease?.token)
            for (action, body) in [("heartbeat", #"{"lease_seconds":0}"#), ("fail", #"{"error":""}"#),
                                   ("release", #"{"delay_seconds":-1}"#), ("complete", #"{"result":1,"extra":2}"#)] {
                try expectError(try await send(client, .post, "/v1/leases/\(token)/\(action)", json: body), .badRequest, "invalid_request")
            }
            try expectError(try await send(client, .get, "/v1/leases/\(token)/complete"), .methodNotAllowed, "method_not_allowed")
        }
    }

    @Test("Complete many: one transaction, one outcome per lease, a stale token refused alone")
    func completeMany() async throws {
        try await withAPI { client, _ in
            _ = try await send(client, .post, "/v1/jobs", json: #"{"jobs":[{"queue":"mail","payload":1},{"queue":"mail","payload":2},{"queue":"mail","payload":3}]}"#)
            let tokens = try await lease(client, "mail", #"{"max":3}"#).compactMap { $0.lease?.token }
            #expect(tokens.count == 3)
            _ = try await send(client, .post, "/v1/leases/\(tokens[2])/release", json: "{}")
            let body = #"{"leases":[{"token":"\#(tokens[0])","result":"a"},{"token":"\#(tokens[1])"},{"token":"\#(tokens[2])"},{"token":"999.1"}]}"#
            let response = try await send(client, .post, "/v1/leases/complete", json: body)
            #expect(response.status == .ok)
            let outcomes = try decode(CompleteManyResponse.self, response).results
            #expect(outcomes.map(\.state) == [.succeeded, .succeeded, nil, nil])
            #expect(outcomes.map { $0.error?.code } == [nil, nil, "lease_lost", "not_found"])
            #expect(try decode(Job.self, try await send(client, .get, "/v1/jobs/\(tokens[0].job)")).result == .string("a"))
            for bad in [#"{"leases":[]}"#, #"{"leases":[{"token":"x"}]}"#, #"{}"#, #"{"leases":[{"token":"1.1","extra":1}]}"#] {
                try expectError(try await send(client, .post, "/v1/leases/complete", json: bad), .badRequest, "invalid_request")
            }
        }
    }

    @Test("A lease may carry the completions of the last ones: completed first, one outcome each, then the next jobs")
    func completionCarried() async throws {
        try await withAPI { client, _ in
            _ = try await send(client, .post, "/v1/jobs", json: #"{"jobs":[{"queue":"mail","payload":1},{"queue":"mail","payload":2}]}"#)
            let first = try #require(try await lease(client, "mail").first?.lease?.token)
            let response = try await send(client, .post, "/v1/queues/mail/lease",
                                          json: #"{"complete":[{"token":"\#(first)","result":"ok"},{"token":"999.1"}]}"#)
            #expect(response.status == .ok)
            let answer = try decode(LeaseResponse.self, response)
            #expect(answer.completed?.map(\.state) == [.succeeded, nil])
            #expect(answer.completed?.last?.error?.code == "not_found")
            #expect(answer.jobs.map(\.spec.command) == [.payload(.integer(2))])
            #expect(try decode(Job.self, try await send(client, .get, "/v1/jobs/\(first.job)")).state == .succeeded)
        }
    }

    @Test("A long poll returns nothing at its timeout, and a job put while it waits at once")
    func longPoll() async throws {
        try await withAPI { client, fixture in
            let empty = try await lease(client, "mail", #"{"wait_seconds":0.2}"#)
            #expect(empty.isEmpty)
            async let waiting = lease(client, "news", #"{"wait_seconds":30}"#)
            await fixture.engine.untilConsumersWait(1, in: "news")
            let job = try await submit(client, #"{"queue":"news","payload":[1]}"#)
            #expect(try await waiting.map(\.id) == [job.id])
        }
    }
}
