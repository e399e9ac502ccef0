import Foundation
import JobBasics
import JobRunner

/// What `jobq work`'s slots share: how many jobs they took (for `--max-jobs`), whether a signal
/// stopped the leasing or the commands, and the commands running now.
actor WorkState {
    private var taken = 0
    private(set) var stopping = false
    private(set) var aborting = false
    private var running: [pid_t: ForegroundCommand] = [:]
    private let stopped = StopLatch()

    /// Takes one job's place under `maxJobs`; `false` once stopping or every place is taken.
    func reserve(maxJobs: Int?) -> Bool {
        if stopping { return false }
        if let maxJobs, taken >= maxJobs { return false }
        taken += 1
        return true
    }

    /// Gives back a place whose lease found nothing.
    func unreserve() { taken -= 1 }

    func started(_ command: ForegroundCommand) { running[command.pid] = command }
    func ended(_ command: ForegroundCommand) { running[command.pid] = nil }

    /// Leases no more; a lease in progress is given up.
    func stop() {
        stopping = true
        stopped.release()
    }

    /// Stops too, and the running commands (their jobs go back to the queue).
    func abort() {
        stop()
        aborting = true
        for command in running.values { command.terminate() }
    }

    /// Runs `body` unless leasing stops first: then it is cancelled and this throws `CancellationError`.
    nonisolated func unlessStopped<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                await self.stopped.wait()
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw CancellationError() }
            return value
        }
    }

}

/// Released once, by the first stop: who waits for it returns then, or when cancelled.
final class StopLatch: Sendable {
    private struct State {
        var released = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Locked(State())

    func release() {
        let waiters = state.withLock { state in
            state.released = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once released, or once the calling task is cancelled.
    func wait() async {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.released || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}

/// Signals delivered as an async stream (a dispatch source per signal, the default action off).
final class SignalWatch: Sendable {
    let stream: AsyncStream<Int32>
    private let continuation: AsyncStream<Int32>.Continuation
    /// The sources, kept alive until `finish` cancels them (behind a lock: they are not `Sendable`).
    private let sources: Locked<[any DispatchSourceSignal]>

    init(signals: [Int32]) {
        (stream, continuation) = AsyncStream<Int32>.makeStream()
        let queue = DispatchQueue(label: "jobq.work.signals")
        var sources: [any DispatchSourceSignal] = []
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [continuation] in continuation.yield(number) }
            source.resume()
            sources.append(source)
        }
        self.sources = Locked(sources)
    }

    func finish() {
        sources.withLock { sources in for source in sources { source.cancel() } }
        continuation.finish()
    }
}
