import JobBasics
import JobModel
import JobQueueTesting
@testable import JobStore
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

    @Test("ready reads the next jobs in claim order, leaving out those the caller holds, and changes nothing")
    func readyReadsWithoutClaiming() async throws {
        try await withStore { store, clock async throws in
            for priority in [1, 5, 3, 5, 2] { _ = try await store.add(spec(priority: priority)) }
            var later = spec("later", priority: 9)
            later.runAt = clock.now.advanced(by: .seconds(60))
            _ = try await store.add(later)
            _ = try await store.add(spec("elsewhere", queue: "other", priority: 9))
            let first = try await store.ready(queue: "default", limit: 3)
            #expect(first.map(\.spec.priority) == [5, 5, 3])
            #expect(first[0].id < first[1].id)
            for job in first { #expect(try await store.existing(job.id) == job && job.state == .queued) }
            #expect(try await store.ready(queue: "default", limit: 3) == first)
            let rest = try await store.ready(queue: "default", limit: 10, excluding: Set(first.map(\.id)))
            #expect(rest.map(\.spec.priority) == [2, 1])
            #expect(try await store.ready(queue: "default", limit: 0).isEmpty)
            #expect(try await store.counts().first { $0.queue == "default" }?[.queued] == 6)
        }
    }

    @Test("start makes a read job running (an attempt, started_at, output paths) before any write queued after it; a job cancelled or run meanwhile is refused and stays as it is")
    func startWithoutWaiting() async throws {
        /// Starts `job` and waits for the store's verdict.
        func start(_ store: JobStore, _ job: Job, at now: Timestamp) async -> (Job, JobStoreError?) {
            let running = Locked<Job?>(nil)
            let failure: JobStoreError? = await withCheckedContinuation { continuation in
                running.withLock { $0 = store.start(job, at: now) { continuation.resume(returning: $0) } }
            }
            return (running.withLock { $0! }, failure)
        }
        try await withStore { store, clock async throws in
            _ = try await store.add(spec("a"))
            _ = try await store.add(spec("b"))
            let (a, b) = try await { () async throws in
                let jobs = try await store.ready(queue: "default", limit: 2)
                return (jobs[0], jobs[1])
            }()
            clock.advance(by: .seconds(3))
            // Not awaited: the finish queued after it still finds the job running.
            let running = store.start(a, at: clock.now) { _ in }
            #expect(running.state == .running && running.attempts == 1 && running.startedAt == clock.now)
            #expect(running.stdoutPath?.hasSuffix("/logs/\(a.id).out") == true)
            #expect(running.stderrPath?.hasSuffix("/logs/\(a.id).err") == true)
            let finished = try await store.finish(a.id, .succeeded)
            #expect(finished.job.startedAt == running.startedAt && finished.job.attempts == 1)
            // Cancelled between its read and its start: refused, nothing changes.
            _ = try await store.cancel(b.id)
            let (_, failure) = await start(store, b, at: clock.now)
            #expect(failure == .illegalTransition(b.id, from: .cancelled, to: .running))
            let cancelled = try await store.existing(b.id)
            #expect(cancelled.state == .cancelled && cancelled.attempts == 0 && cancelled.startedAt == nil)
            // Queued again, but not the job that was read (it ran and failed since, and waits
            // for its retry): refused too, by its attempts.
            _ = try await store.requeue(b.id)
            let read = try await store.existing(b.id)
            #expect(await start(store, read, at: clock.now).1 == nil)
            _ = try await store.scheduleRetry(b.id, at: clock.now, exitCode: 1, reason: "exit 1")
            let (_, stale) = await start(store, read, at: clock.now)
            #expect(stale == .illegalTransition(b.id, from: .queued, to: .running))
            let retrying = try await store.existing(b.id)
            #expect(retrying.state == .queued && retrying.attempts == 1)
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
