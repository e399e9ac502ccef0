import JobBasics
import JobModel

/// Runs jobs' commands. The engine depends on this protocol only, so that its tests use a fake
/// that spawns nothing.
public protocol JobExecutor: Sendable {
    /// Starts one attempt of `job` and calls `onEnd` once with how it ended and what it used:
    /// on the executor's own thread, or on the caller's when it ends before it starts. A command
    /// that cannot start is ``JobOutcome/spawnFailed(errno:message:)``.
    ///
    /// A request on `stop` stops the command: SIGTERM to its whole process group, the grace
    /// period, then SIGKILL to the group; the result is then ``JobOutcome/cancelled(signal:)``
    /// (or ``JobOutcome/timedOut(after:signal:)`` when the timeout came first).
    func start(_ job: Job, stop: RunStop, onEnd: @escaping @Sendable (RunEnd) -> Void)

    /// Stops the processes a previous daemon's run of `jobs` left running (it was killed while
    /// they ran, and they are about to run again); returns how many it stopped.
    func stopLeftovers(of jobs: [JobID]) async -> Int
}

extension JobExecutor {
    /// Nothing is left behind by an executor that spawns nothing.
    public func stopLeftovers(of jobs: [JobID]) async -> Int { 0 }

    /// Runs one attempt of `job` to its end (see ``start(_:stop:onEnd:)``); cancelling the
    /// calling task stops it, as a request on `stop` does.
    public func run(_ job: Job, stop: RunStop = RunStop()) async -> JobOutcome {
        await measuredRun(job, stop: stop).outcome
    }

    /// ``run(_:stop:)`` with what the run used.
    public func measuredRun(_ job: Job, stop: RunStop = RunStop()) async -> RunEnd {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                start(job, stop: stop) { continuation.resume(returning: $0) }
            }
        } onCancel: {
            stop.request()
        }
    }
}

/// How one run ended, and what its process used (nil when none ran: a spawn that failed, a
/// run stopped before it started).
public struct RunEnd: Hashable, Sendable {
    public var outcome: JobOutcome
    public var usage: RunUsage?

    public init(_ outcome: JobOutcome, usage: RunUsage? = nil) {
        self.outcome = outcome
        self.usage = usage
    }
}

/// A request to stop one run, made from another thread than the one it ends on (a user's
/// cancel, the end of the drain's grace period, the engine's cancellation). A request made
/// before the run starts keeps it from starting.
public final class RunStop: Sendable {
    private struct State {
        var requested = false
        var handler: (@Sendable () -> Void)?
    }

    private let state = Locked(State())

    public init() {}

    /// Whether a stop was requested.
    public var isRequested: Bool { state.withLock { $0.requested } }

    /// Asks the run to stop: the handler runs now, or once it is set. Later requests do nothing.
    public func request() {
        let handler: (@Sendable () -> Void)? = state.withLock { state in
            if state.requested { return nil }
            state.requested = true
            defer { state.handler = nil }
            return state.handler
        }
        handler?()
    }

    /// What a request does (at most one handler: a second replaces the first). Runs it at once,
    /// on the caller's thread, when the request came first.
    public func onRequest(_ handler: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            if state.requested { return true }
            state.handler = handler
            return false
        }
        if now { handler() }
    }

    /// Forgets the handler (its run has ended).
    public func clearHandler() {
        state.withLock { $0.handler = nil }
    }
}
