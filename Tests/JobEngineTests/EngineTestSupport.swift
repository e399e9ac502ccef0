import AsyncQueues
import Foundation
import JobBasics
import JobEngine
import JobModel
import JobQueueTesting
import JobRunner
import JobStore
import JobStoring
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
/// - `block`: runs until the test releases it (`release(id)`, which a later run of the job
///   finds too when it comes first) or the run is stopped.
/// Runs end on the caller's thread (at once) or on the releasing test's, as the real
/// executor's end on its launcher's thread.
final class FakeExecutorState: Sendable {
    private struct State {
        var started: [JobID] = []
        var running = 0
        var maxRunning = 0
        /// The end of each blocked run, until released or stopped.
        var blocked: [JobID: @Sendable (JobOutcome) -> Void] = [:]
        var releasedEarly: Set<JobID> = []
        var startObservers: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Locked(State())

    var started: [JobID] { get async { state.withLock { $0.started } } }
    var running: Int { get async { state.withLock { $0.running } } }
    var maxRunning: Int { get async { state.withLock { $0.maxRunning } } }

    fileprivate func begin(_ id: JobID) {
        let due = state.withLock { state in
            state.started.append(id)
            state.running += 1
            state.maxRunning = max(state.maxRunning, state.running)
            let count = state.started.count
            defer { state.startObservers.removeAll { count >= $0.count } }
            return state.startObservers.filter { count >= $0.count }.map(\.continuation)
        }
        for continuation in due { continuation.resume() }
    }

    fileprivate func end() { state.withLock { $0.running -= 1 } }

    /// Holds a blocked run's end until `release`; false when the release came first.
    fileprivate func block(_ id: JobID, _ end: @escaping @Sendable (JobOutcome) -> Void) -> Bool {
        state.withLock { state in
            if state.releasedEarly.remove(id) != nil { return false }
            state.blocked[id] = end
            return true
        }
    }

    /// Takes out a blocked run's end; remembers the release for a run that has not blocked yet.
    fileprivate func unblock(_ id: JobID, rememberIfNone: Bool) -> (@Sendable (JobOutcome) -> Void)? {
        state.withLock { state in
            if let end = state.blocked.removeValue(forKey: id) { return end }
            if rememberIfNone { state.releasedEarly.insert(id) }
            return nil
        }
    }

    /// Returns once `count` runs have started in all.
    func untilStarted(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let reached = state.withLock { state in
                if state.started.count >= count { return true }
                state.startObservers.append((count, continuation))
                return false
            }
            if reached { continuation.resume() }
        }
    }
}

struct FakeExecutor: JobExecutor {
    let state = FakeExecutorState()

    /// What every run of "ok" (and of a flaky job, and a stopped "block") reports it used.
    static let usage = RunUsage(userCPU: .milliseconds(120), systemCPU: .milliseconds(30), maxResidentBytes: 5 << 20)

    func start(_ job: Job, stop: RunStop, onEnd: @escaping @Sendable (RunEnd) -> Void) {
        state.begin(job.id)
        let end: @Sendable (JobOutcome) -> Void = { [state] outcome in
            state.end()
            let used = outcome == .exited(code: 0) || outcome == .exited(code: 3) || outcome == .cancelled(signal: SIGTERM)
            onEnd(RunEnd(outcome, usage: used ? Self.usage : nil))
        }
        guard case .argv(let argv) = job.spec.command, let program = argv.first else { return end(.exited(code: 2)) }
        switch program {
        case "ok": end(.exited(code: 0))
        case "fail": end(.exited(code: 1))
        case let flaky where flaky.hasPrefix("flaky-"):
            let succeedsAt = Int(flaky.dropFirst(6)) ?? 1
            end(job.attempts >= succeedsAt ? .exited(code: 0) : .exited(code: 3))
        case "block":
            guard state.block(job.id, end) else { return end(.exited(code: 0)) }
            stop.onRequest { [state] in state.unblock(job.id, rememberIfNone: false)?(.cancelled(signal: SIGTERM)) }
        default:
            end(.spawnFailed(errno: ENOENT, message: "no executable '\(program)' found"))
        }
    }

    func release(_ id: JobID) async {
        state.unblock(id, rememberIfNone: true)?(.exited(code: 0))
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
