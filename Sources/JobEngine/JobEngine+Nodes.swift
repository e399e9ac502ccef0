import JobBasics
import JobModel

/// What the other nodes of a shared store did, as this node's store hears of it: work they
/// made, jobs they finished, queues they paused or resized, and this node's runs they took.
extension JobEngine {
    /// Work may have reached these queues from elsewhere: the command queues claim again, and
    /// consumers waiting on the payload queues look again.
    public nonisolated func workMayHaveArrived(commands: Set<String>, payloads: Set<String>) {
        if !commands.isEmpty { decide(.workArrived(queues: commands)) }
        for queue in payloads { leaseWaiters.workArrived(in: queue, count: nil) }
    }

    /// Another node recorded these jobs' terminal states: waits and joins hear of it, event
    /// subscribers get them (not counted in this node's metrics), and a run of one of them
    /// here (the job cancelled through another node) is stopped as a cancel stops it.
    public nonisolated func jobsFinishedElsewhere(_ ids: [JobID]) {
        let held = core.withLock { core in ids.compactMap { id in core.state.jobs[id].map { (id, $0.job.spec.queue) } } }
        for (id, queue) in held { decide(.cancelled(id, queue: queue, previousState: .running)) }
        inbox.yield(.finishedElsewhere(ids))
    }

    /// The jobs this engine holds (claimed, running, being stopped or recorded): the shared
    /// store requeues a job it says runs here that is not among them.
    public nonisolated func heldRuns() -> Set<JobID> {
        core.withLock { Set($0.state.jobs.keys) }
    }

    /// Another node paused or resumed the queue: pauses are the cluster's.
    public nonisolated func queuePausedElsewhere(_ name: String, _ paused: Bool) {
        decide(paused ? .paused(name) : .resumed(name))
        if !paused { leaseWaiters.workArrived(in: name, count: nil) }
    }

    /// Another node changed the queue's number of workers, which each node runs.
    public nonisolated func concurrencyChangedElsewhere(_ name: String, _ concurrency: Int) {
        decide(.concurrencyChanged(name, concurrency))
    }

    /// The queues' pauses and run-time numbers of workers as the shared store holds them: a
    /// queue whose state here differs (a notice of its change was missed) takes the store's.
    public nonisolated func queueSettingsAre(paused: Set<String>, workers: [String: Int]) {
        let queues = core.withLock { $0.state.queues }
        for (name, queue) in queues.sorted(by: { $0.key < $1.key }) {
            let pausedHere = queue.lifecycle == .paused
            if pausedHere && !paused.contains(name) { queuePausedElsewhere(name, false) }
            if let count = workers[name], count != queue.concurrency { decide(.concurrencyChanged(name, count)) }
        }
        for name in paused.sorted() where queues[name]?.lifecycle != .paused { queuePausedElsewhere(name, true) }
    }

    /// The store looked for what notices from the other nodes may have missed: the jobs that
    /// waits wait for, and the counts that joins wait for, are read again.
    public nonisolated func lookAgainForWaits() {
        inbox.yield(.lookAgain)
    }

    /// The other nodes of a shared store took this one for dead and requeued its running jobs:
    /// its runs are stopped as a cancel stops them, their ends kept in the history only.
    public nonisolated func stopLostRuns() {
        decide(.runsLost)
    }
}
