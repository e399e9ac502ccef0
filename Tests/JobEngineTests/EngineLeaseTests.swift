import JobBasics
import JobModel
import JobStore
import JobStoring
import Testing
@testable import JobEngine

func payloadSpec(_ queue: String = "mail", attempts: Int = 1) -> JobSpec {
    var spec = JobSpec(command: .payload(.string("hello")), queue: queue)
    spec.retry = RetryPolicy(maxAttempts: attempts, initialBackoff: .zero)
    return spec
}

/// The engine with consumers: long polls woken by arrivals, leases ended by the timer on a
/// manual clock, completions that resolve waits, joins and dependents.
@Suite("JobEngine: leases")
struct EngineLeaseTests {
    @Test("A waiting lease request is woken by the put, not by polling; one that times out returns nothing")
    func longPoll() async throws {
        try await withEngine { engine, _, _, clock in
            try await engine.untilStarted()
            async let waiting = engine.lease(queue: "mail", max: 1, wait: .seconds(20), for: .seconds(60), consumer: "c")
            await clock.untilSleeping(1)  // parked: it sleeps on the clock until its deadline
            #expect(engine.waitingConsumers(in: "mail") == 1)
            let id = try await engine.submit([payloadSpec()])[0].job.id
            #expect(try await waiting.map(\.id) == [id])
            #expect(engine.waitingConsumers(in: "mail") == 0)

            async let nothing = engine.lease(queue: "mail", max: 1, wait: .seconds(5), for: .seconds(60), consumer: "c")
            await clock.untilSleeping(2)  // the waiter, and the engine's timer for the lease above
            await clock.advance(by: .seconds(5))
            #expect(try await nothing.isEmpty)
        }
    }

    @Test("An expired lease is ended by the timer: retried while attempts are left, then failed; a wait sees it")
    func expiry() async throws {
        try await withEngine { engine, store, _, clock in
            try await engine.untilStarted()
            let id = try await engine.submit([payloadSpec(attempts: 2)])[0].job.id
            let first = try await engine.lease(queue: "mail", max: 1, wait: .zero, for: .seconds(5), consumer: "c")
            #expect(first.first?.lease?.token == LeaseToken(job: id, run: 1))
            await clock.untilSleeping(1)
            await clock.advance(by: .seconds(5))
            // Requeued by the timer's pass (no backoff): a waiting lease gets it, as run 2.
            let second = try await engine.lease(queue: "mail", max: 1, wait: .seconds(20), for: .seconds(5), consumer: "c")
            #expect(second.first?.lease?.token == LeaseToken(job: id, run: 2))
            await clock.untilSleeping(1)
            async let done = engine.wait(for: [id])
            await clock.advance(by: .seconds(5))
            let failed = try await done
            #expect(failed[0].state == .failed && failed[0].attempts == 2)
            #expect(failed[0].error?.contains("expired") == true)
            #expect(try await store.nextLeaseExpiry() == nil)
        }
    }

    @Test("Complete resolves waits and joins and starts the jobs that run after it; a cancel is heard at the next heartbeat")
    func completeAndCancel() async throws {
        try await withEngine { engine, _, fake, _ in
            try await engine.untilStarted()
            let id = try await engine.submit([payloadSpec()])[0].job.id
            var after = spec("ok")
            after.after = [id]
            let dependent = try await engine.submit([after])[0].job.id
            let token = try #require(try await engine.lease(queue: "mail", max: 1, wait: .zero, for: .seconds(60), consumer: "c").first?.lease?.token)
            async let waited = engine.wait(for: [id])
            let done = try await engine.complete(token, result: .integer(7))
            #expect(done.state == .succeeded && done.result == .integer(7))
            #expect(try await waited[0].result == .integer(7))
            #expect(try await engine.wait(for: [dependent])[0].state == .succeeded)
            #expect(await fake.state.started == [dependent])
            try await engine.join(queue: "mail")

            let cancelled = try await engine.submit([payloadSpec()])[0].job.id
            let held = try #require(try await engine.lease(queue: "mail", max: 1, wait: .zero, for: .seconds(60), consumer: "c").first?.lease?.token)
            _ = try await engine.cancel(cancelled, reason: "cancelled by a test")
            await #expect(throws: JobStoreError.self) { _ = try await engine.heartbeat(held, for: .seconds(60)) }
        }
    }

    @Test("A paused payload queue leases nothing; its resume wakes the waiting consumer")
    func pauseAndResume() async throws {
        try await withEngine { engine, _, _, clock in
            try await engine.untilStarted()
            let id = try await engine.submit([payloadSpec()])[0].job.id
            try await engine.pause("mail")
            async let waiting = engine.lease(queue: "mail", max: 1, wait: .seconds(20), for: .seconds(60), consumer: "c")
            await clock.untilSleeping(1)
            try await engine.resume("mail")
            #expect(try await waiting.map(\.id) == [id])
        }
    }

    @Test("Leases outlast a restart of the engine: the new one's timer ends them when they expire")
    func leasesOutlastARestart() async throws {
        let leased = Locked<JobID?>(nil)
        try await withEngine(prepare: { store in
            let job = try await store.insert([payloadSpec()])[0].job
            let taken = try await store.lease(queue: "mail", limit: 1, for: .seconds(30), consumer: "before")
            #expect(taken.jobs.map(\.id) == [job.id])
            leased.withLock { $0 = job.id }
        }) { engine, store, _, clock in
            try await engine.untilStarted()
            let id = try #require(leased.withLock { $0 })
            #expect(try await store.job(id)?.lease?.consumer == "before")
            await clock.untilSleeping(1)
            async let done = engine.wait(for: [id])
            await clock.advance(by: .seconds(30))
            #expect(try await done[0].state == .failed)
        }
    }
}
