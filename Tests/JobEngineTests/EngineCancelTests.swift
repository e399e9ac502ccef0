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

/// One worker and two jobs that block: `body` runs once the first has started; the second
/// waits for the worker. It gets their ids.
func withSecondJobWaiting(
    _ body: @Sendable (JobEngine, JobStore, FakeExecutor, ManualClock, [JobID]) async throws -> Void
) async throws {
    try await withEngine(EngineConfiguration(defaultConcurrency: 1, drainGrace: .zero)) { engine, store, fake, clock in
        let ids = try await engine.submit([spec("block"), spec("block")]).map(\.job.id)
        await fake.state.untilStarted(1)
        try await body(engine, store, fake, clock, ids)
    }
}

@Suite("JobEngine: cancel, drain", .timeLimit(.minutes(1)))
struct EngineCancelTests {
    @Test("A cancelled run's end, and what it used, go into the job's history")
    func cancelledRunInHistory() async throws {
        try await withSecondJobWaiting { engine, store, fake, clock, ids in
            await clock.advance(by: .seconds(3))
            _ = try await engine.cancel(ids[0])
            // The second job's record is written after the first's run: once it is, so is that.
            await fake.state.untilStarted(2)
            await fake.release(ids[1])
            _ = try await engine.wait(for: [ids[1]])
            let history = try #require(try await store.runHistory(of: ids[0]))
            #expect(history.map(\.run) == [1])
            #expect(history.first?.error == "cancelled while running and was stopped" && history.first?.signal == SIGTERM)
            #expect(history.first?.usage == FakeExecutor.usage)
            #expect(try await store.job(ids[0])?.usage == FakeExecutor.usage)
            #expect(try await store.job(ids[0])?.state == .cancelled)
        }
    }

    @Test("A job waiting for a free worker is queued in the store, not running; its start is when its command started")
    func waitingIsQueued() async throws {
        try await withSecondJobWaiting { engine, store, fake, clock, ids in
            let firstStart = clock.now()
            let waiting = try #require(try await store.job(ids[1]))
            #expect(waiting.state == .queued && waiting.startedAt == nil && waiting.attempts == 0)
            await clock.advance(by: .seconds(30))
            await fake.release(ids[0])
            await fake.state.untilStarted(2)
            let startedAt = clock.now()
            #expect(try await store.job(ids[1])?.state == .running)
            await clock.advance(by: .seconds(5))
            await fake.release(ids[1])
            let jobs = try await engine.wait(for: ids)
            #expect(jobs[0].startedAt == firstStart)
            #expect(jobs[1].startedAt == startedAt)
            #expect(jobs[1].finishedAt == startedAt.advanced(by: .seconds(5)))
        }
    }

    @Test("A job cancelled while it waits for a worker never starts; retried meanwhile, it runs once")
    func cancelWhileWaiting() async throws {
        try await withSecondJobWaiting { engine, store, fake, _, ids in
            let cancelled = try await engine.cancel(ids[1])
            #expect(cancelled.previousState == .queued)
            #expect(try await store.job(ids[1])?.state == .cancelled)
            #expect(try await engine.retry(ids[1]).state == .queued)
            await fake.release(ids[0])
            await fake.state.untilStarted(2)
            await fake.release(ids[1])
            let jobs = try await engine.wait(for: ids)
            #expect(jobs.map(\.state) == [.succeeded, .succeeded])
            #expect(jobs[1].attempts == 1)
            #expect(await fake.state.started == ids)
        }
    }

    @Test("Cancel stops a running job; the store keeps it cancelled; wait sees it")
    func cancelRunning() async throws {
        try await withEngine { engine, _, fake, _ in
            let id = try await engine.submit([spec("block")])[0].job.id
            await fake.state.untilStarted(1)
            let cancelled = try await engine.cancel(id, reason: "cancelled by test")
            #expect(cancelled.previousState == .running)
            let job = try await engine.wait(for: [id])[0]
            #expect(job.state == .cancelled)
            #expect(job.error == "cancelled by test")
            // The queue goes on with the next job.
            let next = try await engine.submit([spec("ok")])[0].job.id
            #expect(try await engine.wait(for: [next])[0].state == .succeeded)
        }
    }

    @Test("A cancel that commits after the run ended but before its outcome: the job stays cancelled, and a retry runs it (schemathesis found it)")
    func cancelBetweenRunAndRecord() async throws {
        try await withEngine { engine, store, fake, _ in
            let id = try await engine.submit([spec("block")])[0].job.id
            await fake.state.untilStarted(1)
            // The writer is held: the cancel's write waits, the run ends, the outcome's write
            // waits behind it; both then commit in that order.
            let cancelled = try await store.withWriterHeld(untilPending: 2) {
                async let cancelled = engine.cancel(id, reason: "cancelled by test")
                await store.untilPendingWrites(1)
                await fake.release(id)
                return try await cancelled
            }
            #expect(cancelled.previousState == .running)
            #expect(try await engine.wait(for: [id])[0].state == .cancelled)
            // Before the fix the cancel marked the finished run as one to skip, so a retry's run
            // was skipped and the job stayed running.
            try #require(await engine.state.cancelledInFlight.isEmpty)
            try #require(await !engine.state.jobs.values.contains { $0.phase == .stopping(byUser: true) })
            _ = try await engine.retry(id)
            await fake.state.untilStarted(2)
            await fake.release(id)
            let job = try await engine.wait(for: [id])[0]
            #expect(job.state == .succeeded)
            #expect(await engine.state.jobs.isEmpty)
        }
    }

    @Test("Cancel of a queued job: it never runs")
    func cancelQueued() async throws {
        try await withEngine { engine, _, fake, _ in
            let blocker = try await engine.submit([spec("block")])[0].job.id
            await fake.state.untilStarted(1)
            let waiting = try await engine.submit([spec("ok")])[0].job.id
            _ = try await engine.cancel(waiting)
            await fake.release(blocker)
            try await engine.join()
            #expect(await fake.state.started == [blocker])
            #expect(try await engine.wait(for: [waiting])[0].state == .cancelled)
        }
    }

    @Test("Waits are cancellable and leave nothing behind")
    func waitsAreCancellable() async throws {
        try await withEngine { engine, _, fake, _ in
            let id = try await engine.submit([spec("block")])[0].job.id
            await fake.state.untilStarted(1)
            await withTaskGroup(of: Bool.self) { group in
                group.addTask { (try? await engine.wait(for: [id])) == nil }
                group.addTask { (try? await engine.join()) == nil }
                group.cancelAll()
                for await threw in group { #expect(threw) }
            }
            await fake.release(id)
            #expect(try await engine.wait(for: [id])[0].state == .succeeded)
            await #expect(throws: JobStoreError.notFound(999)) { try await engine.wait(for: [999]) }
        }
    }

    @Test("Graceful drain: unstarted jobs go back, running ones get the grace period, then are stopped and requeued")
    func drain() async throws {
        let directory = try makeTemporaryDirectory("jobq-drain")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clock = ManualClock()
        let store = try await JobStore.open(
            StoreConfiguration(path: directory + "/jobs.db", logDirectory: directory), clock: { clock.now() },
            logger: .init(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        let fake = FakeExecutor()
        let engine = JobEngine(store: store, executor: fake,
                               configuration: EngineConfiguration(defaultConcurrency: 1, drainGrace: .seconds(30)),
                               clock: clock, logger: .init(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await engine.run() }
                let ids = try await engine.submit((0..<3).map { _ in spec("block") }).map(\.job.id)
                await fake.state.untilStarted(1)
                trigger.triggerGracefulShutdown()
                await clock.untilSleeping(1)  // the drain's grace timer
                #expect(await fake.state.running == 1)
                await clock.advance(by: .seconds(30))
                try await group.waitForAll()
                for id in ids {
                    let job = try #require(try await store.job(id))
                    #expect(job.state == .queued)
                    #expect(job.attempts == 0)  // neither the stopped run nor the unstarted claims count
                }
                #expect(await fake.state.started == [ids[0]])
            }
        }
        await store.close()
    }
}
