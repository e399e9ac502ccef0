import AsyncQueues
import Foundation
import JobEngine
import JobModel
import JobQueueTesting
import JobRunner
import JobStore
import Logging
import ServiceLifecycleTestKit
import Synchronization
import Testing

/// A clock the test moves by hand. Sleepers wake when `advance` passes their deadline.
final class ManualClock: EngineClock {
    private let milliseconds = Atomic<Int64>(1_800_000_000_000)
    private let sleepers = Sleepers()

    /// The sleepers, behind an actor.
    actor Sleepers {
        var waiting: [(deadline: Int64, signal: AsyncQueue<Void>)] = []
        var observers: [(count: Int, signal: AsyncQueue<Void>)] = []

        func add(_ deadline: Int64, _ signal: AsyncQueue<Void>) async {
            waiting.append((deadline, signal))
            for observer in observers where waiting.count >= observer.count { try? await observer.signal.putNowait(()) }
            observers.removeAll { waiting.count >= $0.count }
        }

        func remove(_ signal: AsyncQueue<Void>) { waiting.removeAll { $0.signal === signal } }

        func fire(upTo now: Int64) async {
            let due = waiting.filter { $0.deadline <= now }
            waiting.removeAll { $0.deadline <= now }
            for sleeper in due { try? await sleeper.signal.putNowait(()) }
        }

        func untilWaiting(_ count: Int) async {
            if waiting.count >= count { return }
            let signal = AsyncQueue<Void>(maxsize: 1)
            observers.append((count, signal))
            _ = try? await signal.get()
        }
    }

    func now() -> Timestamp { Timestamp(millisecondsSinceEpoch: milliseconds.load(ordering: .acquiring)) }

    func sleep(until deadline: Timestamp) async throws {
        if deadline <= now() { return }
        let signal = AsyncQueue<Void>(maxsize: 1)
        await sleepers.add(deadline.millisecondsSinceEpoch, signal)
        if deadline <= now() { await sleepers.remove(signal); return }
        do {
            try await signal.get()
        } catch {
            await sleepers.remove(signal)
            throw error
        }
    }

    /// Moves time forward and wakes the sleepers whose deadline has come.
    func advance(by duration: Duration) async {
        let now = milliseconds.add(duration.wholeMilliseconds, ordering: .acquiringAndReleasing).newValue
        await sleepers.fire(upTo: now)
    }

    /// Returns once at least `count` tasks sleep on this clock (a readiness signal for tests).
    func untilSleeping(_ count: Int) async { await sleepers.untilWaiting(count) }
}

/// An executor that spawns nothing: each job's `argv[0]` says what happens.
/// - `ok`: succeeds; `fail`: exits 1; `flaky-N`: fails until attempt N, then succeeds;
/// - `block`: runs until the test releases it (`release(id)`) or the run is cancelled.
actor FakeExecutorState {
    var started: [JobID] = []
    var running = 0
    var maxRunning = 0
    var gates: [JobID: AsyncQueue<Void>] = [:]
    var startObservers: [(count: Int, signal: AsyncQueue<Void>)] = []

    func begin(_ id: JobID) async {
        started.append(id)
        running += 1
        maxRunning = max(maxRunning, running)
        for observer in startObservers where started.count >= observer.count { try? await observer.signal.putNowait(()) }
        startObservers.removeAll { started.count >= $0.count }
    }

    func end() { running -= 1 }

    func gate(_ id: JobID) -> AsyncQueue<Void> {
        if let gate = gates[id] { return gate }
        let gate = AsyncQueue<Void>(maxsize: 1)
        gates[id] = gate
        return gate
    }

    /// Returns once `count` runs have started in all.
    func untilStarted(_ count: Int) async {
        if started.count >= count { return }
        let signal = AsyncQueue<Void>(maxsize: 1)
        startObservers.append((count, signal))
        _ = try? await signal.get()
    }
}

struct FakeExecutor: JobExecutor {
    let state = FakeExecutorState()

    func run(_ job: Job, stop: RunStop) async -> JobOutcome {
        await state.begin(job.id)
        let outcome = await outcome(of: job, stop: stop)
        await state.end()
        return outcome
    }

    private func outcome(of job: Job, stop: RunStop) async -> JobOutcome {
        guard case .argv(let argv) = job.spec.command, let program = argv.first else { return .exited(code: 2) }
        switch program {
        case "ok": return .exited(code: 0)
        case "fail": return .exited(code: 1)
        case let flaky where flaky.hasPrefix("flaky-"):
            let succeedsAt = Int(flaky.dropFirst(6)) ?? 1
            return job.attempts >= succeedsAt ? .exited(code: 0) : .exited(code: 3)
        case "block":
            // Until released, or stopped (a stop request shuts its gate; so does cancelling the task).
            let gate = await state.gate(job.id)
            let (stopped, stoppedSink) = AsyncStream<Void>.makeStream()
            stop.onRequest { stoppedSink.finish() }
            return await withTaskGroup(of: JobOutcome?.self) { group in
                group.addTask {
                    do {
                        try await gate.get()
                        return .exited(code: 0)
                    } catch {
                        return .cancelled(signal: SIGTERM)
                    }
                }
                group.addTask {
                    for await _ in stopped {}
                    return Task.isCancelled ? nil : .cancelled(signal: SIGTERM)
                }
                let first = await group.next() ?? nil
                stoppedSink.finish()
                group.cancelAll()
                return first ?? .cancelled(signal: SIGTERM)
            }
        default:
            return .spawnFailed(errno: ENOENT, message: "no executable '\(program)' found")
        }
    }

    func release(_ id: JobID) async {
        try? await state.gate(id).putNowait(())
    }
}

/// A fresh store in a temporary directory, an engine over it with the fake executor and the
/// manual clock, running until `body` returns; then a graceful shutdown, awaited (with the
/// default zero grace, jobs still running are stopped at once and requeued).
func withEngine<T: Sendable>(
    _ configuration: EngineConfiguration = EngineConfiguration(defaultConcurrency: 1, drainGrace: .zero),
    prepare: (JobStore) async throws -> Void = { _ in },
    _ body: @Sendable (JobEngine, JobStore, FakeExecutor, ManualClock) async throws -> T
) async throws -> T {
    let directory = try makeTemporaryDirectory("jobq-engine")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let clock = ManualClock()
    let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    let store = try await JobStore.open(
        StoreConfiguration(path: directory + "/jobs.db", logDirectory: directory), clock: { clock.now() }, logger: quiet)
    try await prepare(store)
    let executor = FakeExecutor()
    let engine = JobEngine(store: store, executor: executor, configuration: configuration, clock: clock, logger: quiet)
    let result = try await testGracefulShutdown { trigger in
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await engine.run()
                return nil
            }
            let result: T
            do {
                result = try await body(engine, store, executor, clock)
            } catch {
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
                throw error
            }
            trigger.triggerGracefulShutdown()
            try await group.waitForAll()
            return result
        }
    }
    await store.close()
    return result
}

/// The next event for which `matches` holds.
func next(_ events: inout AsyncStream<EngineEvent>.Iterator, _ matches: (EngineEvent) -> Bool) async -> EngineEvent? {
    while let event = await events.next() {
        if matches(event) { return event }
    }
    return nil
}
