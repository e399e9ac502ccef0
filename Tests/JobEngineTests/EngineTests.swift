import AsyncQueues
import Foundation
import Logging
@testable import JobEngine
import JobModel
import JobQueueTesting
import JobRunner
@testable import JobStore
import JobStoring
import ServiceLifecycleTestKit
import Testing

func spec(_ program: String, queue: String = "default", priority: Int = 0) -> JobSpec {
    JobSpec(command: .argv([program]), queue: queue, priority: priority)
}

@Suite("JobEngine", .timeLimit(.minutes(1)))
struct EngineTests {
    @Test("Jobs run and succeed; wait returns them terminal; join returns when the queue is done")
    func runsJobs() async throws {
        try await withEngine { engine, store, fake, _ in
            let ids = try await engine.submit((0..<5).map { _ in spec("ok") }).map(\.job.id)
            try await engine.join(queue: "default")
            let jobs = try await engine.wait(for: ids)
            #expect(jobs.map(\.state) == Array(repeating: .succeeded, count: 5))
            #expect(await fake.state.started == ids)
            #expect(try await store.counts().first?[.succeeded] == 5)
        }
    }

    @Test("What each run used reaches the store: the job's last run, and every run in its history")
    func recordsUsage() async throws {
        try await withEngine { engine, store, _, _ in
            var flaky = spec("flaky-2")
            flaky.retry = RetryPolicy(maxAttempts: 2, initialBackoff: .zero)
            let ids = try await engine.submit([spec("ok"), flaky]).map(\.job.id)
            let jobs = try await engine.wait(for: ids)
            #expect(jobs.map(\.state) == [.succeeded, .succeeded])
            #expect(jobs.map(\.usage) == [FakeExecutor.usage, FakeExecutor.usage])
            #expect(try await store.runHistory(of: ids[0])?.map(\.usage) == [FakeExecutor.usage])
            #expect(try await store.runHistory(of: ids[1])?.map(\.exitCode) == [3, 0])
        }
    }

    @Test("A queue's limits: its defaults and ceilings are stored with each command job; a job asking above a ceiling is refused")
    func queueLimits() async throws {
        var configuration = EngineConfiguration(defaultConcurrency: 1, drainGrace: .zero)
        configuration.queueLimits = [
            "builds": QueueLimits(ceilings: ResourceLimits(memoryBytes: 1 << 30)),
            "*": QueueLimits(defaults: ResourceLimits(openFiles: 64)),
        ]
        try await withEngine(configuration) { engine, store, _, _ in
            var asked = spec("ok", queue: "builds")
            asked.limits.cpuSeconds = 5
            let stored = try await engine.submit([asked, spec("ok")]).map(\.job)
            #expect(stored[0].spec.limits == ResourceLimits(memoryBytes: 1 << 30, cpuSeconds: 5, openFiles: 64))
            #expect(stored[1].spec.limits == ResourceLimits(openFiles: 64))
            var greedy = spec("ok", queue: "builds")
            greedy.limits.memoryBytes = 2 << 30
            await #expect(throws: JobStoreError.invalidSpec(
                index: 1, .invalidField("limits.memory_bytes", "is 2147483648, above queue builds's ceiling of 1073741824"))) {
                _ = try await engine.submit([spec("ok"), greedy])
            }
            #expect(try await store.counts().reduce(0) { $0 + $1.total } == 2)
        }
    }

    @Test("Root's jobs are refused when the configuration says so; others' are stored")
    func rootRefused() async throws {
        var configuration = EngineConfiguration(defaultConcurrency: 1, drainGrace: .zero)
        configuration.refuseRootJobs = true
        try await withEngine(configuration) { engine, _, _, _ in
            var roots = spec("ok")
            roots.submitterUID = 0
            var users = spec("ok")
            users.submitterUID = 1000
            await #expect(throws: JobStoreError.submitterRefused(
                "jobs of root are refused: jobs run as their submitters (run_as = submitter) and allow_root_jobs is off")) {
                _ = try await engine.submit([users, roots])
            }
            let stored = try await engine.submit([users])
            #expect(stored.count == 1)
        }
    }

    @Test("Joins waiting while jobs of their queue finish one by one, others still running, return once the last has finished")
    func joinsAcrossFinishes() async throws {
        try await withEngine(EngineConfiguration(defaultConcurrency: 2, drainGrace: .zero)) { engine, _, fake, _ in
            let ids = try await engine.submit((0..<4).map { _ in spec("block") }).map(\.job.id)
            let other = try await engine.submit([spec("block", queue: "other")]).map(\.job.id)
            await fake.state.untilStarted(3)  // 2 of the default queue, and the other queue's
            let joined = AsyncQueue<String>()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await engine.join(queue: "default"); try await joined.put("default") }
                group.addTask { try await engine.join(); try await joined.put("all") }
                await engine.untilJoinWaiters(2)
                // Each finish but the last of the default queue leaves another of its jobs running.
                for (index, id) in ids.enumerated() {
                    await fake.release(id)
                    if index < 2 { await fake.state.untilStarted(4 + index) }
                }
                #expect(try await joined.get() == "default")
                #expect(await joined.count == 0)  // the other queue's job still runs
                await fake.release(other[0])
                #expect(try await joined.get() == "all")
                try await group.waitForAll()
            }
        }
    }

    @Test("Priorities: among ready jobs the highest runs first")
    func priorities() async throws {
        try await withEngine { engine, _, fake, _ in
            try await engine.pause("default")
            let low = try await engine.submit([spec("ok", priority: -5)])[0].job.id
            let mid = try await engine.submit([spec("ok")])[0].job.id
            let high = try await engine.submit([spec("ok", priority: 9)])[0].job.id
            try await engine.resume("default")
            try await engine.join()
            #expect(await fake.state.started == [high, mid, low])
        }
    }

    @Test("A queue paused before a restart starts paused: its jobs wait for resume")
    func pauseLastsAcrossRestarts() async throws {
        // The first engine's pause, as the store keeps it for the next start
        try await withEngine(prepare: { store in try await store.setPaused("default", true) }) { engine, store, fake, _ in
            try await engine.untilStarted()
            #expect(await engine.queueStatus().first { $0.name == "default" }?.paused == true)
            let id = try await engine.submit([spec("ok")])[0].job.id
            try await engine.pause("default")  // pausing again is harmless
            #expect(try await store.job(id)?.state == .queued)
            #expect(await fake.state.started.isEmpty)
            try await engine.resume("default")
            #expect(try await engine.wait(for: [id])[0].state == .succeeded)
            #expect(try await store.pausedQueues() == [])
        }
        // And pause() records it for the next start.
        try await withEngine { engine, store, _, _ in
            try await engine.pause("nightly")
            #expect(try await store.pausedQueues() == ["nightly"])
        }
    }

    @Test("A failing job retries after its backoff on the clock, until its attempts are spent")
    func retriesWithBackoff() async throws {
        try await withEngine { engine, store, fake, clock in
            var events = engine.events().makeAsyncIterator()
            var flaky = spec("flaky-3")
            flaky.retry = RetryPolicy(maxAttempts: 3, initialBackoff: .seconds(10), maxBackoff: .seconds(60), multiplier: 2, jitter: 0)
            let id = try await engine.submit([flaky])[0].job.id
            guard case .requeued(let first)? = await next(&events, { if case .requeued = $0 { true } else { false } }) else {
                Issue.record("no retry scheduled")
                return
            }
            #expect(first.runAt == clock.now().advanced(by: .seconds(10)))
            #expect(first.error == "exited with status 3")
            #expect(await fake.state.started == [id])
            await clock.advance(by: .seconds(10))
            guard case .requeued(let second)? = await next(&events, { if case .requeued = $0 { true } else { false } }) else {
                Issue.record("no second retry")
                return
            }
            #expect(second.runAt == clock.now().advanced(by: .seconds(20)))  // doubled
            await clock.advance(by: .seconds(20))
            let done = try await engine.wait(for: [id])[0]
            #expect(done.state == .succeeded)
            #expect(done.attempts == 3)
            #expect(await fake.state.started == [id, id, id])

            var hopeless = spec("fail")
            hopeless.retry = RetryPolicy(maxAttempts: 2, initialBackoff: .seconds(1), jitter: 0)
            let failing = try await engine.submit([hopeless])[0].job.id
            _ = await next(&events) { if case .requeued = $0 { true } else { false } }
            await clock.advance(by: .seconds(1))
            let failed = try await engine.wait(for: [failing])[0]
            #expect(failed.state == .failed)
            #expect(failed.attempts == 2)
            #expect(failed.exitCode == 1)
            #expect(try await store.job(failing)?.error == "exited with status 1")
        }
    }

    @Test("A delayed job runs only once its run_at has come (one timer, woken by the clock)")
    func delayedJobs() async throws {
        try await withEngine { engine, _, fake, clock in
            var delayed = spec("ok")
            delayed.runAt = clock.now().advanced(by: .seconds(60))
            let id = try await engine.submit([delayed])[0].job.id
            let now = try await engine.submit([spec("ok")])[0].job.id
            _ = try await engine.wait(for: [now])
            await clock.untilSleeping(1)  // the dispatcher waits for the delayed job's time
            #expect(await fake.state.started == [now])
            await clock.advance(by: .seconds(60))
            #expect(try await engine.wait(for: [id])[0].state == .succeeded)
            #expect(await fake.state.started == [now, id])
        }
    }

    @Test("Dependencies: a job runs after its dependency succeeds, and fails when it fails")
    func dependencies() async throws {
        try await withEngine { engine, _, fake, _ in
            let first = try await engine.submit([spec("ok")])[0].job.id
            var then = spec("ok")
            then.after = [first]
            let second = try await engine.submit([then])[0].job.id
            #expect(try await engine.wait(for: [second])[0].state == .succeeded)
            #expect(await fake.state.started == [first, second])

            let broken = try await engine.submit([spec("fail")])[0].job.id
            var after = spec("ok")
            after.after = [broken]
            let dependent = try await engine.submit([after])[0].job.id
            let settled = try await engine.wait(for: [dependent])[0]
            #expect(settled.state == .failed)
            #expect(settled.error == "job \(broken), which this job runs after, failed")
            #expect(await !fake.state.started.contains(dependent))
        }
    }

    @Test("Concurrency: a queue runs at most its concurrency at once; growing it starts more now")
    func concurrency() async throws {
        try await withEngine(EngineConfiguration(defaultConcurrency: 2, drainGrace: .zero)) { engine, _, fake, _ in
            let ids = try await engine.submit((0..<4).map { _ in spec("block") }).map(\.job.id)
            await fake.state.untilStarted(2)
            #expect(await fake.state.running == 2)
            try await engine.setConcurrency("default", 4)
            await fake.state.untilStarted(4)
            #expect(await fake.state.maxRunning == 4)
            #expect(await engine.queueStatus().first?.concurrency == 4)
            for id in ids { await fake.release(id) }
            try await engine.join()
            // Shrinking: the next jobs run one at a time.
            try await engine.setConcurrency("default", 1)
            let more = try await engine.submit((0..<3).map { _ in spec("block") }).map(\.job.id)
            await fake.state.untilStarted(5)
            #expect(await fake.state.running == 1)
            for id in more { await fake.release(id) }
            try await engine.join()
            #expect(await fake.state.started.count == 7)
        }
    }

    @Test("Claims take free slots only: with 2 workers the store never has more than 2 jobs running")
    func claimsFreeSlotsOnly() async throws {
        try await withEngine(EngineConfiguration(defaultConcurrency: 2, drainGrace: .zero)) { engine, store, fake, _ in
            let ids = try await engine.submit((0..<8).map { _ in spec("block") }).map(\.job.id)
            // Both slots taken: the store says 2 running (their processes) and 6 queued, not
            // claimed ahead (a job waiting for a worker is not `running`).
            await fake.state.untilStarted(2)
            let counts = try await store.counts().first { $0.queue == "default" }
            #expect(counts?[.running] == 2 && counts?[.queued] == 6, "\(String(describing: counts))")
            for count in 1...8 {
                await fake.state.untilStarted(count)
                await fake.release(await fake.state.started[count - 1])
            }
            try await engine.join()
            #expect(Set(await fake.state.started) == Set(ids))
            #expect(await fake.state.maxRunning == 2)
        }
    }

    @Test("Named queues: each has its own concurrency (configured, or the default on first use)")
    func namedQueues() async throws {
        let configuration = EngineConfiguration(defaultConcurrency: 2, concurrency: ["serial": 1], drainGrace: .zero)
        try await withEngine(configuration) { engine, _, fake, _ in
            let serial = try await engine.submit((0..<2).map { _ in spec("block", queue: "serial") }).map(\.job.id)
            let fresh = try await engine.submit((0..<3).map { _ in spec("block", queue: "fresh") }).map(\.job.id)
            await fake.state.untilStarted(3)  // 1 of serial + 2 of fresh
            let status = await engine.queueStatus()
            #expect(status.map(\.name) == ["fresh", "serial"])
            #expect(status.map(\.concurrency) == [2, 1])
            #expect(status.map(\.running) == [2, 1])
            #expect(await fake.state.running == 3)
            for id in serial + fresh { await fake.release(id) }
            try await engine.join()
            #expect(await fake.state.started.count == 5)
            #expect(await fake.state.maxRunning == 3)
        }
    }

    @Test("Pause stops claiming (running jobs go on); resume starts again")
    func pauseAndResume() async throws {
        try await withEngine { engine, _, fake, _ in
            let running = try await engine.submit([spec("block")])[0].job.id
            await fake.state.untilStarted(1)
            try await engine.pause("default")
            let held = try await engine.submit([spec("ok")])[0].job.id
            await fake.release(running)
            #expect(try await engine.wait(for: [running])[0].state == .succeeded)
            #expect(await engine.queueStatus().first?.paused == true)
            #expect(await fake.state.started == [running])
            try await engine.resume("default")
            #expect(try await engine.wait(for: [held])[0].state == .succeeded)
        }
    }

    @Test("Events: submitted, started, finished, in order")
    func events() async throws {
        try await withEngine { engine, _, _, _ in
            var events = engine.events().makeAsyncIterator()
            let id = try await engine.submit([spec("ok")])[0].job.id
            var kinds: [String] = []
            while kinds.count < 3, let event = await events.next() {
                guard event.job.id == id else { continue }
                switch event {
                case .submitted: kinds.append("submitted")
                case .started: kinds.append("started")
                case .finished(let job): kinds.append("finished:\(job.state)")
                case .requeued: kinds.append("requeued")
                }
            }
            #expect(kinds == ["submitted", "started", "finished:succeeded"])
        }
    }

    @Test("Retry by hand: a failed job runs again from its first attempt")
    func retryByHand() async throws {
        try await withEngine { engine, _, fake, _ in
            let id = try await engine.submit([spec("fail")])[0].job.id
            #expect(try await engine.wait(for: [id])[0].state == .failed)
            let again = try await engine.retry(id)
            #expect(again.state == .queued)
            #expect(again.attempts == 0)
            let settled = try await engine.wait(for: [id])[0]
            #expect(settled.state == .failed)
            #expect(settled.attempts == 1)
            #expect(await fake.state.started == [id, id])
            await #expect(throws: JobStoreError.illegalTransition(id, from: .failed, to: .cancelled)) {
                try await engine.cancel(id)
            }
        }
    }

    @Test("Jobs left running by a dead daemon run again at the next start")
    func recoveryAtStart() async throws {
        try await withEngine(prepare: { store in
            _ = try await store.insert([spec("ok"), spec("ok")])
            _ = try await store.claim(queue: "default", limit: 2)  // "running" when the daemon died
        }) { engine, store, fake, _ in
            try await engine.join()
            let jobs = try await store.jobs().jobs
            #expect(jobs.map(\.state) == [.succeeded, .succeeded])
            // The interrupted attempt is counted apart, not in the attempts.
            #expect(jobs.map(\.attempts) == [1, 1] && jobs.map(\.interruptedAttempts) == [1, 1])
            #expect(await fake.state.started == jobs.map(\.id))
        }
    }
}
