import JobModel
import JobRunner

/// Every decision of the engine, as a value: it takes an ``EngineInput`` and the time, and
/// returns the ``EngineAction``s to carry out. No I/O, no tasks, no clock of its own, so that
/// each race (a cancel while a job is claimed, running, being recorded, or while its claim is
/// in flight; a drain) is a unit test of inputs in and actions out.
///
/// A queue of concurrency C runs at most C jobs at once. A claim asks for the free slots only
/// and its jobs start as it returns (any beyond the slots, after a shrink, go back at once):
/// a job is `running` in the store while its process runs, never while it waits for a slot.
/// The backlog stays in the store.
struct EngineState {
    private(set) var lifecycle: Lifecycle = .starting
    private(set) var queues: [String: QueueState] = [:]
    /// The jobs claimed and not yet recorded, by id.
    private(set) var jobs: [JobID: TrackedJob] = [:]
    /// Jobs a user cancelled while a claim of their queue was in flight and which the engine
    /// did not hold yet: that claim may return them, and they must not start.
    private(set) var cancelledInFlight: [JobID: String] = [:]
    /// Claims and releases in flight: the drain ends only once none is left.
    private(set) var pendingStoreWork = 0
    /// When the earliest lease of a payload job ends, as far as the engine knows (a heartbeat
    /// may have moved it later: the pass then finds nothing and says when the next one ends).
    private(set) var leaseDeadline: Timestamp?
    /// Whether the expiry timer's pass is in flight, and the earliest lease granted meanwhile.
    private(set) var expiringLeases = false
    private var leaseHeldDuringPass: Timestamp?
    /// Queues paused or resumed while the engine was starting: the start's own reading of the
    /// paused queues, made earlier, does not undo those.
    private var pausedOrResumedWhileStarting: Set<String> = []
    let defaultConcurrency: Int
    let configuredConcurrency: [String: Int]
    /// At most this many jobs run at once over every queue (`nil`: no cap beyond the queues').
    let maxRunning: Int?
    /// The queues whose jobs this engine claims to run (`nil`: every queue).
    let servedQueues: Set<String>?

    init(defaultConcurrency: Int, configuredConcurrency: [String: Int] = [:], maxRunning: Int? = nil, servedQueues: Set<String>? = nil) {
        self.defaultConcurrency = max(1, defaultConcurrency)
        self.configuredConcurrency = configuredConcurrency
        self.maxRunning = maxRunning.map { max(1, $0) }
        self.servedQueues = servedQueues
    }

    /// Jobs running (or being stopped) over every queue.
    var totalRunning: Int { queues.values.reduce(0) { $0 + $1.running } }

    /// Slots that claims in flight asked for, counted against ``maxRunning``.
    var reserved: Int { queues.values.reduce(0) { $0 + $1.asked } }

    /// Slots left under ``maxRunning`` (unlimited without one).
    private var globalFree: Int { maxRunning.map { $0 - totalRunning - reserved } ?? .max }

    /// The soonest time the timer must fire: a queue's next `run_at`, or the drain's grace.
    var nextDeadline: Timestamp? {
        var deadlines = queues.values.compactMap(\.sleepsUntil)
        if !expiringLeases, let leaseDeadline { deadlines.append(leaseDeadline) }
        if case .draining(let deadline, false) = lifecycle { deadlines.append(deadline) }
        return deadlines.min()
    }

    /// Whether any job's command runs (or is being stopped).
    var isRunningAnything: Bool { queues.values.contains { $0.running > 0 } }

    /// Jobs of `queue` whose command runs (or is being stopped).
    func runningCount(_ queue: String) -> Int { queues[queue]?.running ?? 0 }

    /// Whether the engine holds a job of `queue` that is live in the store (claimed, running,
    /// stopped by the drain, or its end being recorded) and that no user cancelled: no join it
    /// concerns can be done, and the end of that job's record tells the joins again (when it
    /// is the last such job), so that a run ending beside it need not make them count.
    func hasUncancelledRun(in queue: String) -> Bool {
        jobs.values.contains { tracked in
            tracked.job.spec.queue == queue && tracked.phase != .stopping(byUser: true)
        }
    }

    // MARK: Inputs

    mutating func handle(_ input: EngineInput, now: Timestamp) -> [EngineAction] {
        var actions: [EngineAction] = []
        switch input {
        case .started(let names, let paused, let payloadQueues, let leaseExpiry):
            lifecycle = .running
            for name in names { ensureQueue(name) }
            for name in payloadQueues { queues[name]?.servesConsumers = true }
            for name in paused where !pausedOrResumedWhileStarting.contains(name) { queues[name]?.lifecycle = .paused }
            pausedOrResumedWhileStarting = []
            leaseHeld(until: leaseExpiry, &actions)
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
        case .claimed(let name, let claimed, let limit, let more, let passedOverAt):
            pendingStoreWork -= 1
            receive(claimed, limit: limit, more: more, passedOverAt: passedOverAt, in: name, now: now, &actions)
        case .claimFailed(let name, let retryAt):
            pendingStoreWork -= 1
            queues[name]?.asked = 0
            queues[name]?.claiming = .asleep(until: retryAt)
            actions.append(.rearmTimer)
            checkDrained(&actions)
        case .nextRunAt(let name, let at):
            if queues[name]?.claiming == .asleep(until: nil), let at {
                queues[name]?.claiming = .asleep(until: at)
                actions.append(.rearmTimer)
            }
        case .runEnded(let id, let outcome, let usage, let abandoned):
            runEnded(id, outcome, usage: usage, abandoned: abandoned, now: now, &actions)
        case .recorded(let id):
            if let name = jobs[id]?.job.spec.queue {
                runLeftStore(in: name)
                claimIfDue(name, &actions)
            }
            jobs[id] = nil
            checkDrained(&actions)
        case .releaseEnded, .stoppedRunKept:
            pendingStoreWork -= 1
            checkDrained(&actions)
        case .cancelled(let id, let name, let previous):
            cancelled(id, queue: name, previousState: previous, now: now, &actions)
        case .runsLost:
            for (id, tracked) in jobs.sorted(by: { $0.key < $1.key }) {
                cancelled(id, queue: tracked.job.spec.queue, previousState: .running, now: now, &actions)
            }
        case .paused(let name):
            if lifecycle == .starting { pausedOrResumedWhileStarting.insert(name) }
            ensureQueue(name)
            queues[name]?.lifecycle = .paused
        case .resumed(let name):
            if lifecycle == .starting { pausedOrResumedWhileStarting.insert(name) }
            ensureQueue(name)
            queues[name]?.lifecycle = .active
            queues[name]?.wake()
            claimIfDue(name, &actions)
        case .concurrencyChanged(let name, let concurrency):
            ensureQueue(name)
            // Fewer slots take effect as running jobs end; more are claimed for at once.
            queues[name]?.concurrency = max(1, concurrency)
            claimIfDue(name, &actions)
        case .drain(let graceDeadline):
            // Asked again with an earlier deadline (a second Ctrl-C): the grace ends sooner.
            if case .draining(let deadline, false) = lifecycle, graceDeadline < deadline {
                lifecycle = .draining(graceDeadline: graceDeadline, graceOver: false)
                actions.append(.rearmTimer)
                break
            }
            guard lifecycle == .running || lifecycle == .starting else { break }
            lifecycle = .draining(graceDeadline: graceDeadline, graceOver: false)
            actions.append(.rearmTimer)
            checkDrained(&actions)
        case .tick:
            tick(now: now, &actions)
        case .consumersServe(let names):
            for name in names {
                ensureQueue(name)
                queues[name]?.servesConsumers = true
            }
        case .leaseHeld(let until):
            leaseHeld(until: until, &actions)
        case .leasesExpired(let next):
            expiringLeases = false
            let held = leaseHeldDuringPass
            leaseHeldDuringPass = nil
            leaseDeadline = [next, held].compactMap { $0 }.min()
            actions.append(.rearmTimer)
        }
        return actions
    }

    /// A lease runs until `until` (granted, extended, or still held at the start): the expiry
    /// timer must fire by then.
    private mutating func leaseHeld(until: Timestamp?, _ actions: inout [EngineAction]) {
        guard let until else { return }
        if expiringLeases {
            leaseHeldDuringPass = min(leaseHeldDuringPass ?? until, until)
        } else if leaseDeadline.map({ until < $0 }) ?? true {
            leaseDeadline = until
            actions.append(.rearmTimer)
        }
    }

    // MARK: Queues and claims

    private mutating func ensureQueue(_ name: String) {
        if queues[name] != nil { return }
        queues[name] = QueueState(concurrency: max(1, configuredConcurrency[name] ?? defaultConcurrency))
    }

    /// Claims for the queue's free slots when it may, within the global cap, if this engine
    /// serves the queue.
    private mutating func claimIfDue(_ name: String, _ actions: inout [EngineAction]) {
        guard lifecycle == .running, servedQueues?.contains(name) ?? true, var queue = queues[name],
              var limit = queue.claimLimit() else { return }
        limit = min(limit, globalFree)
        guard limit > 0 else { return }
        queue.claiming = .inFlight(rewoken: false)
        queue.runEndedDuringClaim = false
        queue.asked = limit
        queues[name] = queue
        pendingStoreWork += 1
        actions.append(.claim(queue: name, limit: limit))
    }

    private mutating func receive(
        _ claimed: [Job], limit: Int, more: Bool, passedOverAt: Timestamp?, in name: String, now: Timestamp,
        _ actions: inout [EngineAction]
    ) {
        // Jobs cancelled while this claim was in flight never start.
        let fresh = claimed.filter { cancelledInFlight[$0.id] == nil }
        cancelledInFlight = cancelledInFlight.filter { $0.value != name }
        guard var queue = queues[name] else { return }
        let rewoken: Bool
        if case .inFlight(let woken) = queue.claiming {
            rewoken = woken || (passedOverAt != nil && queue.runEndedDuringClaim)
        } else {
            rewoken = false
        }
        queue.claimEnded(found: claimed.count, asked: limit, more: more, rewoken: rewoken)
        queue.waitsForRunEnd = passedOverAt != nil
        queue.asked = 0
        queues[name] = queue
        // What this claim did not take is free for the other queues under the cap.
        defer { if claimed.count < limit { claimAcross(after: name, &actions) } }
        if lifecycle != .running || queue.lifecycle == .paused {
            if !fresh.isEmpty { release(fresh, &actions) }
            checkDrained(&actions)
            return
        }
        if queues[name]?.claiming == .asleep(until: nil) { actions.append(.findNextRunAt(queue: name, after: passedOverAt)) }
        // More than the free slots (the concurrency shrank while the claim was in flight): the
        // rest go back at once, so that a job `running` in the store is one whose process runs.
        let free = max(0, min(queue.concurrency - queue.running, globalFree))
        for job in fresh.prefix(free) { start(job, in: name, now: now, &actions) }
        if fresh.count > free { release(Array(fresh.dropFirst(free)), &actions) }
        claimIfDue(name, &actions)
    }

    /// Under a global cap, a freed slot goes round the queues: each, from the one after `name`
    /// (and `name` last), claims if it may, so that one busy queue does not keep every slot.
    private mutating func claimAcross(after name: String, _ actions: inout [EngineAction]) {
        guard maxRunning != nil else { return }
        let names = queues.keys.sorted()
        let start = (names.firstIndex(of: name).map { $0 + 1 }) ?? 0
        for index in 0..<names.count { claimIfDue(names[(start + index) % names.count], &actions) }
    }

    /// A job of `name` is no longer `running` in the store (its end is recorded): when a claim
    /// passed over jobs whose submitters were at their cap, one of them may start now.
    private mutating func runLeftStore(in name: String) {
        guard var queue = queues[name] else { return }
        if case .inFlight = queue.claiming { queue.runEndedDuringClaim = true }
        if queue.waitsForRunEnd {
            queue.waitsForRunEnd = false
            queue.wake()
        }
        queues[name] = queue
    }

    /// Starts a claimed job in a free slot of its queue.
    private mutating func start(_ claimed: Job, in name: String, now: Timestamp, _ actions: inout [EngineAction]) {
        var job = claimed
        job.startedAt = now
        jobs[job.id] = TrackedJob(job: job, phase: .running)
        queues[name]?.running += 1
        actions.append(.run(job))
    }

    private mutating func release(_ released: [Job], _ actions: inout [EngineAction]) {
        pendingStoreWork += 1
        actions.append(.release(released))
    }

    // MARK: Runs

    private mutating func runEnded(
        _ id: JobID, _ outcome: JobOutcome, usage: RunUsage?, abandoned: Bool, now: Timestamp, _ actions: inout [EngineAction]
    ) {
        guard var tracked = jobs[id] else { return }
        let name = tracked.job.spec.queue
        queues[name]?.running -= 1
        switch tracked.phase {
        case _ where abandoned:
            jobs[id] = nil  // the engine's task was cancelled: the next start requeues it
        case .stopping(byUser: true):
            // The cancel is recorded; waiters were resolved by it. The run goes into the history.
            jobs[id] = nil
            runLeftStore(in: name)
            keepStoppedRun(tracked.job, outcome, reason: "cancelled while running and was stopped", usage: usage, &actions)
        case .stopping(byUser: false) where isCancelled(outcome):
            // Stopped by the drain: back to `queued`, the attempt not counted, the run in the history.
            jobs[id] = nil
            release([tracked.job], &actions)
            keepStoppedRun(tracked.job, outcome, reason: "stopped when jobqd stopped, and queued again", usage: usage, &actions)
        default:
            tracked.phase = .recording
            jobs[id] = tracked
            actions.append(.record(tracked.job, outcome, usage: usage))
        }
        // Under a global cap the freed slot goes round the queues.
        if maxRunning == nil { claimIfDue(name, &actions) } else { claimAcross(after: name, &actions) }
        checkDrained(&actions)
    }

    private mutating func keepStoppedRun(
        _ job: Job, _ outcome: JobOutcome, reason: String, usage: RunUsage?, _ actions: inout [EngineAction]
    ) {
        var exitCode: Int32?, signal: Int32?
        if case .failed(let code, let sig, _) = outcome.completion { (exitCode, signal) = (code, sig) }
        pendingStoreWork += 1
        actions.append(.keepStoppedRun(job, .failed(exitCode: exitCode, signal: signal, reason: reason), usage: usage))
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
        if !expiringLeases, let deadline = leaseDeadline, deadline <= now {
            expiringLeases = true
            leaseDeadline = nil
            actions.append(.expireLeases)
        }
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
