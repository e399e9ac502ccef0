import JobModel
import JobRunner

/// What the threads that feed the engine share, under one lock: its decisions
/// (``EngineState``), the stop signal of each run, and what waits on them. The store's writer,
/// the launcher and the engine's actor each take the lock to hand in an input and take out the
/// actions, which they then carry out themselves, outside the lock.
struct EngineCore {
    var state: EngineState
    /// The stop signal of each job whose command runs, made when its run is decided, so that a
    /// stop decided at once after finds it.
    var stops: [JobID: RunStop] = [:]
    /// The engine's task was cancelled (not a drain): runs that end now are abandoned, nothing
    /// is recorded, and the next start requeues them.
    var abandoning = false
    /// Resumed once no command runs, after ``abandoning`` was set.
    var idleWaiter: CheckedContinuation<Void, Never>?
    /// Waits (by job) and joins registered on the engine's actor: a job that becomes terminal
    /// while there are none needs no message to the actor.
    var idWaits = 0
    var joins = 0

    init(state: EngineState) {
        self.state = state
    }

    /// Whether the actor must hear that `ids` became terminal: a wait may name them, or a join
    /// may now be done (not while another job of their one queue still runs).
    func mustTellWaiters(aboutQueue queue: String?) -> Bool {
        if idWaits > 0 { return true }
        guard joins > 0 else { return false }
        return !(queue.map(state.hasUncancelledRun(in:)) ?? false)
    }
}
