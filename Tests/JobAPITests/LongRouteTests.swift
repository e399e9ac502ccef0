import Foundation
import Hummingbird
import HummingbirdTesting
import JobAPI
import JobModel
import Testing

@Suite("Wait, join, logs and queues")
struct LongRouteTests {
    @Test("POST /v1/wait answers when the jobs are terminal; timeout 0 looks once; bad bodies are refused")
    func wait() async throws {
        try await withAPI { client, _ in
            try await send(client, .post, "/v1/queues/held/pause")
            let held = try await submit(client, #"{"argv":["true"],"queue":"held"}"#)
            let look = try decode(WaitResponse.self, try await send(client, .post, "/v1/wait", json: #"{"ids":[\#(held.id)],"timeout_seconds":0}"#))
            #expect(!look.done)
            #expect(look.jobs.map(\.state) == [.queued])
            let ok = try await submit(client, #"{"argv":["true"]}"#)
            let bad = try await submit(client, #"{"argv":["false"]}"#)
            let result = try decode(WaitResponse.self, try await send(client, .post, "/v1/wait", json: #"{"ids":[\#(ok.id),\#(bad.id)]}"#))
            #expect(result.done)
            #expect(result.jobs.map(\.state) == [.succeeded, .failed])
            try expectError(try await send(client, .post, "/v1/wait", json: #"{"ids":[]}"#), .badRequest, "invalid_request")
            try expectError(try await send(client, .post, "/v1/wait", json: #"{"ids":[12345]}"#), .notFound, "not_found")
            try expectError(try await send(client, .post, "/v1/wait", json: #"{"ids":[1],"timeout_seconds":-2}"#), .badRequest, "invalid_request")
            try expectError(try await send(client, .post, "/v1/wait", json: #"{"ids":"1"}"#), .badRequest, "invalid_request")
        }
    }

    @Test("POST /v1/join and /v1/queues/{name}/join answer when the queue has drained")
    func join() async throws {
        try await withAPI { client, _ in
            try await send(client, .post, "/v1/queues/held/pause")
            _ = try await submit(client, #"{"argv":["true"],"queue":"held"}"#)
            _ = try await submit(client, #"{"argv":["true"],"queue":"work"}"#)
            let work = try decode(JoinResponse.self, try await send(client, .post, "/v1/queues/work/join", json: "{}"))
            #expect(work.done)
            #expect(work.queue == "work")
            #expect(work.queues.map(\.name) == ["work"])
            #expect(work.queues[0].states["succeeded"] == 1)
            let all = try decode(JoinResponse.self, try await send(client, .post, "/v1/join", json: #"{"timeout_seconds":0}"#))
            #expect(!all.done)
            #expect(all.queue == nil)
            try await send(client, .post, "/v1/queues/held/resume")
            let drained = try decode(JoinResponse.self, try await send(client, .post, "/v1/join"))
            #expect(drained.done)
            try expectError(try await send(client, .post, "/v1/queues/bad%20name/join", json: "{}"), .badRequest, "invalid_request")
            try expectError(try await send(client, .post, "/v1/join", json: #"{"timeout_seconds":"soon"}"#), .badRequest, "invalid_request")
        }
    }

    @Test("GET /v1/jobs/{id}/logs gives stdout or stderr; follow streams until the job ends")
    func logs() async throws {
        try await withAPI { client, _ in
            let job = try await submit(client, #"{"shell":"echo to-out; echo to-err >&2"}"#)
            _ = try await finished(client, job.id)
            let out = try await send(client, .get, "/v1/jobs/\(job.id)/logs")
            #expect(out.status == .ok)
            #expect(String(buffer: out.body) == "to-out\n")
            #expect(String(buffer: try await send(client, .get, "/v1/jobs/\(job.id)/logs?stream=err").body) == "to-err\n")
            // A job that writes, then blocks until a file appears, then writes again: a follow
            // started while it is blocked cannot end before the job does, and gets both parts.
            // (JobqCommandTests reads the first part through `jobq logs --follow` before the gate.)
            let gate = FileManager.default.temporaryDirectory.appendingPathComponent("jobq-gate-\(UUID())").path
            defer { unlink(gate) }
            let slow = try await submit(client, #"{"shell":"echo one; while [ ! -e \#(gate) ]; do sleep 0.01; done; echo two"}"#)
            while String(buffer: try await send(client, .get, "/v1/jobs/\(slow.id)/logs").body) != "one\n" {
                _ = try await send(client, .post, "/v1/wait", json: #"{"ids":[\#(slow.id)],"timeout_seconds":0.05}"#)
            }
            async let followed = send(client, .get, "/v1/jobs/\(slow.id)/logs?follow=true")
            #expect(FileManager.default.createFile(atPath: gate, contents: nil))
            #expect(String(buffer: try await followed.body) == "one\ntwo\n")
            try expectError(try await send(client, .get, "/v1/jobs/\(job.id)/logs?stream=all"), .badRequest, "invalid_request")
            try expectError(try await send(client, .get, "/v1/jobs/\(job.id)/logs?attempt=0"), .badRequest, "invalid_request")
            try expectError(try await send(client, .get, "/v1/jobs/\(job.id)/logs?tail=x"), .badRequest, "invalid_request")
            // Above the largest the API documents (schemathesis sent 105154234301753168).
            try expectError(try await send(client, .get, "/v1/jobs/\(job.id)/logs?tail=2147483648"), .badRequest, "invalid_request")
            try expectError(try await send(client, .get, "/v1/jobs/\(job.id)/logs?attempt=2147483648"), .badRequest, "invalid_request")
            try expectError(try await send(client, .get, "/v1/jobs/\(job.id)/logs?follow=maybe"), .badRequest, "invalid_request")
            try expectError(try await send(client, .get, "/v1/jobs/999/logs"), .notFound, "not_found")
        }
    }

    @Test("Queue routes: list, show, pause, resume, concurrency; administration is for the daemon's user and root")
    func queues() async throws {
        try await withAPI { client, _ in
            _ = try await finished(client, try await submit(client, #"{"argv":["true"],"queue":"q1"}"#).id)
            let list = try decode(QueueList.self, try await send(client, .get, "/v1/queues"))
            #expect(list.queues.map(\.name).contains("q1"))
            let q1 = try decode(QueueInfo.self, try await send(client, .get, "/v1/queues/q1"))
            #expect(q1.states["succeeded"] == 1)
            #expect(q1.concurrency == 2)
            try expectError(try await send(client, .get, "/v1/queues/none"), .notFound, "not_found")
            try expectError(try await send(client, .get, "/v1/queues/.hidden"), .badRequest, "invalid_request")
            try expectError(try await send(client, .post, "/v1/queues/q1/pause", uid: 3000), .forbidden, "forbidden")
            #expect(try decode(QueueInfo.self, try await send(client, .post, "/v1/queues/q1/pause", uid: 0)).paused)
            #expect(try !decode(QueueInfo.self, try await send(client, .post, "/v1/queues/q1/resume")).paused)
            try expectError(try await send(client, .post, "/v1/queues/q1/resume", uid: 3000), .forbidden, "forbidden")
            let set = try await send(client, .put, "/v1/queues/q1/concurrency", json: #"{"concurrency":5}"#)
            #expect(try decode(QueueInfo.self, set).concurrency == 5)
            try expectError(try await send(client, .put, "/v1/queues/q1/concurrency", json: #"{"concurrency":0}"#), .badRequest, "invalid_request")
            try expectError(try await send(client, .put, "/v1/queues/q1/concurrency", json: #"{"concurrency":"many"}"#), .badRequest, "invalid_request")
            try expectError(try await send(client, .put, "/v1/queues/q1/concurrency", json: #"{"concurrency":3}"#, uid: 3000), .forbidden, "forbidden")
        }
    }

    @Test("GET /v1/status and GET /metrics report counts by state and queue, workers and counters")
    func statusAndMetrics() async throws {
        try await withAPI { client, _ in
            let succeeded = try await finished(client, try await submit(client, #"{"argv":["true"]}"#).id)
            _ = try await finished(client, try await submit(client, #"{"argv":["false"]}"#).id)
            let runs = try decode(RunHistory.self, try await send(client, .get, "/v1/jobs/\(succeeded.id)/runs")).runs
            #expect(runs.count == 1 && runs[0].run == 1 && runs[0].exitCode == 0 && runs[0].error == nil)
            let used = try #require(runs[0].usage)
            #expect(used.maxResidentBytes > 0 && used == succeeded.usage, "\(runs)")
            let status = try decode(StatusReport.self, try await send(client, .get, "/v1/status"))
            #expect(status.states["succeeded"] == 1)
            #expect(status.states["failed"] == 1)
            #expect(status.workers.total == 2)
            #expect(status.version == JobAPI.version)
            let metrics = try await send(client, .get, "/metrics")
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = String(buffer: metrics.body)
            for line in [
                #"jobq_jobs{queue="default",state="succeeded"} 1"#,
                #"jobq_jobs_submitted_total{queue="default"} 2"#,
                #"jobq_jobs_finished_total{queue="default",state="failed"} 1"#,
                #"jobq_job_duration_seconds_count{queue="default"} 2"#,
                #"jobq_job_duration_seconds_bucket{queue="default",le="+Inf"} 2"#,
                #"jobq_job_cpu_seconds_count{queue="default"} 2"#,
                #"jobq_job_max_rss_bytes_count{queue="default"} 2"#,
                #"jobq_job_max_rss_bytes_bucket{queue="default",le="+Inf"} 2"#,
                #"jobq_workers{queue="default"} 2"#,
            ] {
                #expect(text.contains(line + "\n"), "missing \(line)")
            }
            #expect(text.contains("# TYPE jobq_job_duration_seconds histogram"))
            #expect(text.contains("# TYPE jobq_job_cpu_seconds histogram"))
            #expect(text.contains("# TYPE jobq_job_max_rss_bytes histogram"))
            // Group commit: 2 inserts, at least 1 claim and 2 finishes, in at least 1 transaction.
            func value(_ name: String) -> Int? {
                text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Int($0.split(separator: " ")[1]) }
            }
            let transactions = try #require(value("jobq_store_transactions_total"))
            let writes = try #require(value("jobq_store_writes_total"))
            let largest = try #require(value("jobq_store_largest_group"))
            let unsynced = try #require(value("jobq_store_unsynced_transactions_total"))
            #expect(transactions >= 1 && writes >= 5 && writes >= transactions && unsynced < transactions)
            #expect(largest >= 1 && largest <= writes)
        }
    }
}
