import Foundation
import Hummingbird
import HummingbirdTesting
import JobAPI
import JobModel
import Testing

@Suite("Own jobs only: each user sees and acts on theirs; root, the daemon's user and the admin group on all", .timeLimit(.minutes(1)))
struct VisibilityRouteTests {
    static let ann: UInt32 = 3000
    static let bob: UInt32 = 3001

    @Test("Another user's job is not_found by every route; lists hold the caller's own; ?user= is for administrators")
    func ownJobs() async throws {
        // Group 1 (daemon) holds the account of uid 1: its member administers.
        try await withAPI(ownJobsOnly: true, adminGroup: 1) { client, _ in
            _ = try await send(client, .post, "/v1/queues/held/pause", uid: daemonUID)
            let annsJob = try await submit(client, #"{"argv":["true"],"queue":"held"}"#, uid: Self.ann)
            let bobsJob = try await submit(client, #"{"argv":["true"],"queue":"held"}"#, uid: Self.bob)
            let ann = annsJob.id
            for path in ["/v1/jobs/\(ann)", "/v1/jobs/\(ann)/runs", "/v1/jobs/\(ann)/logs"] {
                try expectError(try await send(client, .get, path, uid: Self.bob), .notFound, "not_found")
                #expect(try await send(client, .get, path, uid: Self.ann).status == .ok, "\(path)")
                #expect(try await send(client, .get, path, uid: daemonUID).status == .ok, "\(path)")
                #expect(try await send(client, .get, path, uid: 0).status == .ok, "\(path)")
                #expect(try await send(client, .get, path, uid: 1).status == .ok, "\(path): the admin group's member")
            }
            try expectError(try await send(client, .post, "/v1/wait", json: #"{"ids":[\#(ann)],"timeout_seconds":0}"#, uid: Self.bob),
                            .notFound, "not_found")
            try expectError(try await send(client, .post, "/v1/jobs/\(ann)/cancel", uid: Self.bob), .notFound, "not_found")
            try expectError(try await send(client, .put, "/v1/jobs/\(ann)/priority", json: #"{"priority":3}"#, uid: Self.bob),
                            .notFound, "not_found")

            func listed(_ query: String, as uid: UInt32) async throws -> [JobID] {
                try decode(JobListResponse.self, try await send(client, .get, "/v1/jobs\(query)", uid: uid)).jobs.map(\.id)
            }
            #expect(try await listed("", as: Self.bob) == [bobsJob.id])
            #expect(try await listed("", as: Self.ann) == [ann])
            #expect(try await listed("", as: daemonUID) == [ann, bobsJob.id])
            #expect(try await listed("?user=\(Self.ann)", as: daemonUID) == [ann])
            #expect(try await listed("?user=\(Self.ann)", as: 1) == [ann])
            #expect(try await listed("?user=\(Self.ann)", as: Self.bob) == [])
            #expect(try await listed("?user=root", as: 0) == [])
            #expect(try await listed("?user=no-such-user-here", as: 0) == [])
            #expect(try await listed("?user=", as: 0) == [])

            // The owner acts on their own (the queue is held: the job is still queued).
            #expect(try await send(client, .post, "/v1/jobs/\(bobsJob.id)/cancel", uid: Self.bob).status == .ok)
            // Queue operations are the administrators'.
            try expectError(try await send(client, .post, "/v1/queues/held/resume", uid: Self.bob), .forbidden, "forbidden")
            #expect(try await send(client, .post, "/v1/queues/held/resume", uid: 1).status == .ok)
        }
    }

    @Test("Without own-jobs-only, others' jobs are visible and a cancel by another user is forbidden, as before")
    func everyone() async throws {
        try await withAPI { client, _ in
            _ = try await send(client, .post, "/v1/queues/held/pause", uid: daemonUID)
            let job = try await submit(client, #"{"argv":["true"],"queue":"held"}"#, uid: Self.ann)
            #expect(try await send(client, .get, "/v1/jobs/\(job.id)", uid: Self.bob).status == .ok)
            try expectError(try await send(client, .post, "/v1/jobs/\(job.id)/cancel", uid: Self.bob), .forbidden, "forbidden")
        }
    }
}
