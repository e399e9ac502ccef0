import JobModel
import JobQueueTesting
@testable import JobStore
import JobStoring
import Testing

@Suite("Claim", .timeLimit(.minutes(1)))
struct ClaimTests {
    @Test("Claims go by priority (higher first), then run_at, then id")
    func claimOrder() async throws {
        try await withStore { store, clock async throws in
            let low = try await store.add(spec("low", priority: -1))
            let normal1 = try await store.add(spec("n1"))
            clock.advance(by: .seconds(1))
            let high = try await store.add(spec("high", priority: 10))
            var early = spec("early")
            early.runAt = clock.now.advanced(by: .seconds(-30))
            let earlyJob = try await store.add(early)
            let normal2 = try await store.add(spec("n2"))
            var order: [JobID] = []
            while let job = try await store.claim(queue: "default").first { order.append(job.id) }
            #expect(order == [high.id, earlyJob.id, normal1.id, normal2.id, low.id])
        }
    }

    @Test("A batch claim returns the jobs in claim order and marks them running")
    func batchClaim() async throws {
        try await withStore { store, clock async throws in
            for priority in [1, 5, 3, 5, 2] { _ = try await store.add(spec(priority: priority)) }
            let claimed = try await store.claim(queue: "default", limit: 3)
            #expect(claimed.map(\.spec.priority) == [5, 5, 3])
            #expect(claimed[0].id < claimed[1].id)
            for job in claimed {
                #expect(job.state == .running)
                #expect(job.attempts == 1)
                #expect(job.startedAt == clock.now)
                #expect(job.stdoutPath?.hasSuffix("/logs/\(job.id).out") == true)
                #expect(job.stderrPath?.hasSuffix("/logs/\(job.id).err") == true)
                #expect(try await store.existing(job.id) == job)
            }
            #expect(try await store.claim(queue: "default", limit: 10).count == 2)
            #expect(try await store.claim(queue: "default", limit: 10).isEmpty)
        }
    }

    @Test("Delayed jobs are claimed only once their run_at has come; nextRunAt says when")
    func delayedJobs() async throws {
        try await withStore { store, clock async throws in
            var later = spec("later")
            later.runAt = clock.now.advanced(by: .seconds(60))
            var soon = spec("soon")
            soon.runAt = clock.now.advanced(by: .seconds(10))
            let laterJob = try await store.add(later)
            let soonJob = try await store.add(soon)
            #expect(try await store.claim(queue: "default").isEmpty)
            #expect(try await store.hasReadyJob(queue: "default") == false)
            #expect(try await store.nextRunAt(queue: "default", after: clock.now) == soon.runAt)
            clock.advance(by: .seconds(10))
            #expect(try await store.hasReadyJob(queue: "default"))
            #expect(try await store.nextRunAt(queue: "default", after: clock.now) == later.runAt)
            #expect(try await store.claim(queue: "default").map(\.id) == [soonJob.id])
            clock.advance(by: .seconds(50))
            #expect(try await store.nextRunAt(queue: "default", after: clock.now) == nil)
            #expect(try await store.claim(queue: "default").map(\.id) == [laterJob.id])
        }
    }

    @Test("Queues are separate: a claim takes only its queue's jobs")
    func queuesAreSeparate() async throws {
        try await withStore { store, _ async throws in
            let a = try await store.add(spec(queue: "a"))
            let b = try await store.add(spec(queue: "b"))
            #expect(try await store.claim(queue: "b", limit: 5).map(\.id) == [b.id])
            #expect(try await store.claim(queue: "nothing", limit: 5).isEmpty)
            #expect(try await store.claim(queue: "a", limit: 5).map(\.id) == [a.id])
        }
    }

    @Test("Concurrent claimers never get the same job")
    func concurrentClaims() async throws {
        try await withStore { store, _ async throws in
            _ = try await store.insert((0..<200).map { _ in spec() })
            let claimed = try await withThrowingTaskGroup(of: [JobID].self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        var mine: [JobID] = []
                        while true {
                            let batch = try await store.claim(queue: "default", limit: 3)
                            if batch.isEmpty { return mine }
                            mine += batch.map(\.id)
                        }
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(claimed.count == 200)
            #expect(Set(claimed).count == 200)
            let running = try await store.jobs(matching: JobFilter(states: [.running]), limit: 1000).jobs.map(\.id)
            #expect(Set(running) == Set(claimed))
        }
    }
}
