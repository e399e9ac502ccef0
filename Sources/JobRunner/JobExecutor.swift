import JobModel

/// Runs jobs' commands. The engine depends on this protocol only, so that its tests use a fake
/// that spawns nothing.
public protocol JobExecutor: Sendable {
    /// Runs one attempt of `job` to its end and says how it ended. Never throws: a command that
    /// cannot start is ``JobOutcome/spawnFailed(errno:message:)``.
    ///
    /// Cancelling the calling task stops the command: SIGTERM to its whole process group, the
    /// grace period, then SIGKILL to the group; the result is then ``JobOutcome/cancelled(signal:)``
    /// (or ``JobOutcome/timedOut(after:signal:)`` when the timeout came first).
    func run(_ job: Job) async -> JobOutcome

    /// Stops the processes a previous daemon's run of `jobs` left running (it was killed while
    /// they ran, and they are about to run again); returns how many it stopped.
    func stopLeftovers(of jobs: [JobID]) async -> Int
}

extension JobExecutor {
    /// Nothing is left behind by an executor that spawns nothing.
    public func stopLeftovers(of jobs: [JobID]) async -> Int { 0 }
}
