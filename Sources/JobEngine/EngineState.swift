import JobModel
import JobRunner

/// Every decision of the engine, as a value: it takes an ``EngineInput`` and the time, and
/// returns the ``EngineAction``s to carry out. No I/O, no tasks, no clock of its own, so that
/// each race (a cancel while a job is claimed, running, being recorded, or while its claim is
/// in flight; a drain) is a unit test of inputs in and actions out.
///
/// A queue of concurrency C runs at most C jobs at once. Claimed jobs wait for a free slot in
/// claim order; the queue is claimed again once fewer than half of its slots (rounded up) hold
/// a waiting job, as many as fill them, in one claim: at most 2C jobs are claimed at once, and
/// the backlog stays in the store.
struct EngineState {
    /// The engine's life: recovering, running, draining, stopped.
    enum Lifecycle: Equatable {
        case starting
        case running
        /// No more claims; running jobs go on until the grace deadline, then are stopped.
        case draining(graceDeadline: Timestamp, graceOver: Bool)
        case stopped
    }

    /// Where one job the engine holds is.
    enum JobPhase: Equatable {
        /// Claimed (`running` in the store), waiting for a free slot of its queue.
        case waiting
        /// Its command runs.
        case running
        /// Its command is being stopped: by the user's cancel (its outcome is not recorded:
        /// the cancel is) or by the drain (it goes back to `queued`).
        case stopping(byUser: Bool)
        /// Its run ended; its outcome is being written.
        case recording
    }

    struct TrackedJob: Equatable {
        var job: Job
        var phase: JobPhase
    }

    private(set) var lifecycle: Lifecycle = .starting
    private(set) var queues: [String: QueueState] = [:]
    /// The jobs claimed and not yet recorded, by id.
    private(set) var jobs: [JobID: TrackedJob] = [:]
    /// Jobs a user cancelled while a claim of their queue was in flight and which the engine
    /// did not hold yet: that claim may return them, and they must not start.
    private(set) var cancelledInFlight: [JobID: String] = [:]
    /// Claims and releases in flight: the drain ends only once none is left.
    private(set) var pendingStoreWork = 0
    let defaultConcurrency: Int
    let configuredConcurrency: [String: Int]

    init(defaultConcurrency: Int, configuredConcurrency: [String: Int] = [:]) {
        self.defaultConcurrency = max(1, defaultConcurrency)
        self.configuredConcurrency = configuredConcurrency
    }

    /// The soonest time the timer must fire: a queue's next `run_at`, or the drain's grace.
    var nextDeadline: Timestamp? {
        var deadlines = queues.values.compactMap(\.sleepsUntil)
        if case .draining(let deadline, false) = lifecycle { deadlines.append(deadline) }
        return deadlines.min()
    }

    /// Whether any job's command runs (or is being stopped).
    var isRunningAnything: Bool { queues.values.contains { $0.running > 0 } }

    /// Jobs of `queue` whose command runs (or is being stopped).
    func runningCount(_ queue: String) -> Int { queues[queue]?.running ?? 0 }

    /// Whether the engine holds a job of `queue` that is live in the store (claimed, running,
    /// or stopped by the drain) and that no user cancelled: no join it concerns can be done.
    func hasUncancelledRun(in queue: String) -> Bool {
        jobs.values.contains { tracked in
            tracked.job.spec.queue == queue && tracked.phase != .recording && tracked.phase != .stopping(byUser: true)
        }
    }

    // MARK: Inputs

    mutating func handle(_ input: EngineInput, now: Timestamp) -> [EngineAction] {
        var actions: [EngineAction] = []
        switch input {
        case .started(let names, let paused):
            lifecycle = .running
            for name in names { ensureQueue(name) }
            for name in paused { queues[name]?.lifecycle = .paused }
            // With the queues that work arrived in during the recovery.
            for name in queues.keys.sorted() { claimIfDue(name, &actions) }
        case .workArrived(let names):
            for name in names.sorted() {
                ensureQueue(name)
                queues[name]?.wake()
                claimIfDue(name, &actions)
            }
        case .dependentsReady:
            for name in queues.keys.sorted() {
                queues[name]?.wake()
                claimIfDue(name, &actions)
            }
        case .claimed(let name, let claimed, let limit):
            pendingStoreWork -= 1
            receive(claimed, limit: limit, in: name, now: now, &actions)
        case .claimFailed(let name, let retryAt):
            pendingStoreWork -= 1
            queues[name]?.claiming = .asleep(until: retryAt)
            actions.append(.rearmTimer)
            checkDrained(&actions)
        case .nextRunAt(let name, let at):
            if queues[name]?.claiming == .asleep(until: nil), let at {
                queues[name]?.claiming = .asleep(until: at)
                actions.append(.rearmTimer)
            }
        case .runEnded(let id, let outcome, let abandoned):
            runEnded(id, outcome, abandoned: abandoned, now: now, &actions)
        case .recorded(let id):
            jobs[id] = nil
            checkDrained(&actions)
        case .releaseEnded:
            pendingStoreWork -= 1
            checkDrained(&actions)
        case .cancelled(let id, let name, let previous):
            cancelled(id, queue: name, previousState: previous, now: now, &actions)
        case .paused(let name):
            ensureQueue(name)
            queues[name]?.lifecycle = .paused
            releaseWaiting(of: name, &actions)
        case .resumed(let name):
            ensureQueue(name)
            queues[name]?.lifecycle = .active
            queues[name]?.wake()
            claimIfDue(name, &actions)
        case .concurrencyChanged(let name, let concurrency):
            ensureQueue(name)
            let old = queues[name]?.concurrency
            queues[name]?.concurrency = max(1, concurrency)
            // Claimed jobs beyond the new window go back; the rest start as slots free up.
            if let old, concurrency < old { releaseWaiting(of: name, &actions) }
            startWaiting(in: name, now: now, &actions)
            claimIfDue(name, &actions)
        case .drain(let graceDeadline):
            guard lifecycle == .running || lifecycle == .starting else { break }
            lifecycle = .draining(graceDeadline: graceDeadline, graceOver: false)
            for name in queues.keys.sorted() { releaseWaiting(of: name, &actions) }
            actions.append(.rearmTimer)
            checkDrained(&actions)
        case .tick:
            tick(now: now, &actions)
        }
        return actions
    }

    // MARK: Queues and claims

    private mutating func ensureQueue(_ name: String) {
        if queues[name] != nil { return }
        queues[name] = QueueState(concurrency: max(1, configuredConcurrency[name] ?? defaultConcurrency))
    }

    /// Claims for the queue when it may and its waiting jobs are below the refill level.
    private mutating func claimIfDue(_ name: String, _ actions: inout [EngineAction]) {
        guard lifecycle == .running, var queue = queues[name], let limit = queue.claimLimit() else { return }
        queue.claiming = .inFlight(rewoken: false)
        queues[name] = queue
        pendingStoreWork += 1
        actions.append(.claim(queue: name, limit: limit))
    }

    private mutating func receive(
        _ claimed: [Job], limit: Int, in name: String, now: Timestamp, _ actions: inout [EngineAction]
    ) {
        // Jobs cancelled while this claim was in flight never start.
        let fresh = claimed.filter { cancelledInFlight[$0.id] == nil }
        cancelledInFlight = cancelledInFlight.filter { $0.value != name }
        guard var queue = queues[name] else { return }
        let rewoken: Bool
        if case .inFlight(let woken) = queue.claiming { rewoken = woken } else { rewoken = false }
        queue.claimEnded(found: claimed.count, asked: limit, rewoken: rewoken)
        queues[name] = queue
        if lifecycle != .running || queue.lifecycle == .paused {
            if !fresh.isEmpty { release(fresh, &actions) }
            checkDrained(&actions)
            return
        }
        for job in fresh {
            jobs[job.id] = TrackedJob(job: job, phase: .waiting)
            queues[name]?.waiting.append(job.id)
        }
        if queues[name]?.claiming == .asleep(until: nil) { actions.append(.findNextRunAt(queue: name)) }
        startWaiting(in: name, now: now, &actions)
        claimIfDue(name, &actions)
    }

    /// Starts waiting jobs while the queue has free slots.
    private mutating func startWaiting(in name: String, now: Timestamp, _ actions: inout [EngineAction]) {
        guard lifecycle == .running, var queue = queues[name], queue.lifecycle == .active else { return }
        while queue.running < queue.concurrency, !queue.waiting.isEmpty {
            let id = queue.waiting.removeFirst()
            guard var tracked = jobs[id] else { continue }
            // A claimed job may wait for a whole job's run: its start is now, not the claim.
            tracked.job.startedAt = now
            tracked.phase = .running
            jobs[id] = tracked
            queue.running += 1
            actions.append(.run(tracked.job))
        }
        queues[name] = queue
    }

    /// Gives the queue's waiting jobs back to the store.
    private mutating func releaseWaiting(of name: String, _ actions: inout [EngineAction]) {
        guard let waiting = queues[name]?.waiting, !waiting.isEmpty else { return }
        queues[name]?.waiting.removeAll()
        let released = waiting.compactMap { jobs.removeValue(forKey: $0)?.job }
        release(released, &actions)
    }

    private mutating func release(_ released: [Job], _ actions: inout [EngineAction]) {
        pendingStoreWork += 1
        actions.append(.release(released))
    }

    // MARK: Runs

    private mutating func runEnded(
        _ id: JobID, _ outcome: JobOutcome, abandoned: Bool, now: Timestamp, _ actions: inout [EngineAction]
    ) {
        guard var tracked = jobs[id] else { return }
        let name = tracked.job.spec.queue
        queues[name]?.running -= 1
        switch tracked.phase {
        case .stopping(byUser: true):
            // The cancel is recorded; waiters were resolved by it.
            jobs[id] = nil
        case _ where abandoned:
            jobs[id] = nil  // the engine's task was cancelled: the next start requeues it
        case .stopping(byUser: false) where isCancelled(outcome):
            // Stopped by the drain: back to `queued`, the attempt not counted.
            jobs[id] = nil
            release([tracked.job], &actions)
        default:
            tracked.phase = .recording
            jobs[id] = tracked
            actions.append(.record(tracked.job, outcome))
        }
        startWaiting(in: name, now: now, &actions)
        claimIfDue(name, &actions)
        checkDrained(&actions)
    }

    private func isCancelled(_ outcome: JobOutcome) -> Bool {
        if case .cancelled = outcome { return true }
        return false
    }

    private mutating func cancelled(
        _ id: JobID, queue name: String, previousState: JobState, now: Timestamp, _ actions: inout [EngineAction]
    ) {
        guard let tracked = jobs[id] else {
            // Running in the store but not held here: a claim of its queue may be returning it.
            if previousState == .running, case .inFlight = queues[name]?.claiming { cancelledInFlight[id] = name }
            return
        }
        switch tracked.phase {
        case .waiting:
            jobs[id] = nil
            queues[name]?.waiting.removeAll { $0 == id }
            claimIfDue(name, &actions)
        case .running:
            jobs[id]?.phase = .stopping(byUser: true)
            actions.append(.stop(id))
        case .stopping:
            jobs[id]?.phase = .stopping(byUser: true)
        case .recording:
            break  // the record finds the job cancelled in the store and leaves it so
        }
    }

    // MARK: Time and the drain

    private mutating func tick(now: Timestamp, _ actions: inout [EngineAction]) {
        for name in queues.keys.sorted() {
            if case .asleep(let until?) = queues[name]?.claiming, until <= now {
                queues[name]?.claiming = .idle
                claimIfDue(name, &actions)
            }
        }
        if case .draining(let deadline, false) = lifecycle, deadline <= now {
            lifecycle = .draining(graceDeadline: deadline, graceOver: true)
            for (id, tracked) in jobs.sorted(by: { $0.key < $1.key }) where tracked.phase == .running {
                jobs[id]?.phase = .stopping(byUser: false)
                actions.append(.stop(id))
            }
        }
        actions.append(.rearmTimer)
    }

    /// During a drain: once nothing runs, nothing is recorded and no store work is in flight,
    /// the engine stops.
    private mutating func checkDrained(_ actions: inout [EngineAction]) {
        guard case .draining = lifecycle, jobs.isEmpty, pendingStoreWork == 0 else { return }
        lifecycle = .stopped
        actions.append(.finishDrain)
    }
}
