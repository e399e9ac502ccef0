import JobModel
import JobQueueTesting
@testable import JobStore
import JobStoring
import Testing

@Suite("Fair claims", .timeLimit(.minutes(1)))
struct FairClaimTests {
    private func spec(by user: UInt32?, priority: Int = 0, queue: String = "default") -> JobSpec {
        var spec = JobSpec(command: .argv(["true"]), queue: queue, priority: priority)
        spec.submitterUID = user
        return spec
    }

    private func submitters(_ jobs: [Job]) -> [UInt32?] { jobs.map(\.spec.submitterUID) }

    @Test("Round-robin: one user's backlog does not hold back another's job, within a priority")
    func roundRobinAcrossSubmitters() async throws {
        try await withStore { store, _ async throws in
            for _ in 0..<5 { _ = try await store.add(spec(by: 1000)) }
            _ = try await store.add(spec(by: 1001))
            let policy = ClaimPolicy()
            // The first claim serves 1000 (lowest id); 1001 has never been served, so it goes next.
            #expect(submitters(try await store.claim(queue: "default", policy: policy)) == [1000])
            #expect(submitters(try await store.claim(queue: "default", policy: policy)) == [1001])
            #expect(submitters(try await store.claim(queue: "default", limit: 10, policy: policy)) == [1000, 1000, 1000, 1000])
        }
    }

    @Test("A batch interleaves submitters, served longest ago first; FIFO keeps submission order")
    func batchInterleaves() async throws {
        try await withStore { store, _ async throws in
            for user: UInt32 in [7, 7, 7, 8, 8, 9] { _ = try await store.add(spec(by: user)) }
            _ = try await store.add(spec(by: nil))
            let first = try await store.claim(queue: "default", limit: 3, policy: ClaimPolicy())
            #expect(Set(submitters(first)) == [7, 8, 9])
            // Served last time: 7, 8, 9 in that order; the job without a submitter never was.
            let second = try await store.claim(queue: "default", limit: 10, policy: ClaimPolicy())
            #expect(submitters(second) == [nil, 7, 8, 7])
        }
        try await withStore { store, _ async throws in
            for user: UInt32 in [7, 7, 8] { _ = try await store.add(spec(by: user)) }
            #expect(submitters(try await store.claim(queue: "default", limit: 3, policy: .fifo)) == [7, 7, 8])
        }
    }

    @Test("Priority comes before the submitters' turns")
    func priorityFirst() async throws {
        try await withStore { store, _ async throws in
            _ = try await store.add(spec(by: 1, priority: 0))
            _ = try await store.add(spec(by: 2, priority: 5))
            _ = try await store.add(spec(by: 2, priority: 5))
            let claimed = try await store.claim(queue: "default", limit: 3, policy: ClaimPolicy())
            #expect(claimed.map(\.spec.priority) == [5, 5, 0])
        }
    }

    @Test("max_running_per_user caps each submitter's running jobs; a finish frees a slot")
    func capPerSubmitter() async throws {
        try await withStore { store, clock async throws in
            for _ in 0..<6 { _ = try await store.add(spec(by: 1)) }
            _ = try await store.add(spec(by: 2))
            for fairness in ClaimPolicy.Fairness.allCases {
                let policy = ClaimPolicy(fairness: fairness, maxRunningPerUser: 2)
                let claimed = try await store.claim(queue: "default", limit: 10, policy: policy)
                #expect(submitters(claimed).sorted { ($0 ?? 0) < ($1 ?? 0) } == [1, 1, 2])
                // Nothing more while they run, and the claim says it passed jobs over.
                var result: ClaimedJobs?
                result = try await awaitClaim(store, policy: policy)
                #expect(result?.jobs.isEmpty == true)
                #expect(result?.passedOverAt == clock.now)
                #expect(result?.more == false)
                let finished = claimed.first { $0.spec.submitterUID == 1 }!
                _ = try await store.finish(finished.id, .succeeded)
                result = try await awaitClaim(store, policy: policy)
                #expect(submitters(result?.jobs ?? []) == [1])
                #expect(result?.passedOverAt == clock.now)
                // Put every running job back for the next policy's turn.
                for job in try await store.jobs(matching: JobFilter(states: [.running]), limit: 10).jobs {
                    _ = try await store.release(job.id)
                }
            }
        }
    }

    @Test("Delayed jobs and other queues are not claimed; a payload queue is never claimed")
    func readinessAndQueues() async throws {
        try await withStore { store, clock async throws in
            var later = spec(by: 1)
            later.runAt = clock.now.advanced(by: .seconds(30))
            _ = try await store.add(later)
            _ = try await store.add(spec(by: 2, queue: "other"))
            #expect(try await store.claim(queue: "default", limit: 5, policy: ClaimPolicy()).isEmpty)
            clock.advance(by: .seconds(30))
            #expect(submitters(try await store.claim(queue: "default", limit: 5, policy: ClaimPolicy())) == [1])
        }
    }

    private func awaitClaim(_ store: JobStore, policy: ClaimPolicy) async throws -> ClaimedJobs {
        try await withCheckedThrowingContinuation { continuation in
            store.claim(queue: "default", limit: 10, policy: policy) { continuation.resume(with: $0) }
        }
    }
}
