import AsyncQueues
import JobModel
import JobRunner
import JobStore
import Logging
import ServiceLifecycle

/// The daemon's core: asyncio's producer/consumer pattern over the durable store.
///
/// For each named queue, a **dispatcher** claims ready jobs from the store (highest priority,
/// then earliest `run_at`) and `put`s them into the queue's ``AsyncQueue``, whose `maxsize` is the
/// queue's concurrency: it refills the queue once it runs low
/// (``claimLimit(concurrency:waiting:)``), so that at most twice the concurrency is claimed at
/// once, and the backlog stays in SQLite. **Workers** `get` a job, run it through the
/// ``JobExecutor``, record the outcome
/// (success, a retry after the job's backoff, or failure once its attempts are spent), and call
/// `taskDone`. A dispatcher with nothing to claim sleeps until the earliest `run_at` of its queue
/// or until something wakes it (a submit, a retry, a resume, a dependency that succeeded): one
/// timer, no polling.
///
/// Run it as a swift-service-lifecycle `Service`: on graceful shutdown it stops claiming, shuts
/// the queues down (claimed jobs that never started go back to `queued`), lets running jobs go
/// on for ``EngineConfiguration/drainGrace``, then stops them and puts them back to `queued`
/// (the attempt does not count), and returns.
public actor JobEngine: Service {
    let store: JobStore
    let executor: any JobExecutor
    let clock: any EngineClock
    let configuration: EngineConfiguration
    let logger: Logger

    /// A named queue's runtime state.
    struct QueueRuntime {
        var queue: AsyncQueue<Job>
        var concurrency: Int
        var workers = 0
        var paused = false
        /// Wakes the dispatcher (a `maxsize: 1` queue: a wake-up while one is pending is merged).
        let wake = AsyncQueue<Void>(maxsize: 1)
        /// Jobs whose command runs now, with the signal that stops them.
        var running: [JobID: RunStop] = [:]
    }

    enum Command: Sendable {
        case dispatcher(String)
        case worker(String)
        case drainTimer
    }

    var queues: [String: QueueRuntime] = [:]
    var draining = false
    /// Jobs cancelled by a user while claimed or running: their worker must not record an outcome.
    var cancelledByUser: Set<JobID> = []
    /// Jobs whose run has ended and whose outcome is not recorded yet. A cancel that lands then
    /// has nothing to stop: the record finds the job cancelled in the store and leaves it so.
    var recording: Set<JobID> = []
    private let commands: AsyncStream<Command>
    private let commandSink: AsyncStream<Command>.Continuation
    /// Resolved when the last worker has exited during a drain.
    private let workersGone = AsyncQueue<Void>(maxsize: 1)
    private var subscribers: [Int: AsyncStream<EngineEvent>.Continuation] = [:]
    private var nextToken = 0
    private var idWaiters: [Int: (remaining: Set<JobID>, signal: AsyncQueue<Void>)] = [:]
    private var joinWaiters: [Int: (queue: String?, signal: AsyncQueue<Void>)] = [:]
    /// Tests: resumed once `count` joins wait.
    private var joinObservers = CountSignals()
    /// Jobs claimed since the start, and tests waiting for that count to reach theirs.
    private var claimedCount = 0
    private var claimObservers = CountSignals()
    private var started = false
    private var joinRecheckNeeded = false
    private var joinRecheckRunning = false
    private var startWaiters: [AsyncQueue<Void>] = []
    private var counters = EngineMetrics()

    public init(
        store: JobStore,
        executor: any JobExecutor,
        configuration: EngineConfiguration = EngineConfiguration(),
        clock: any EngineClock = SystemEngineClock(),
        logger: Logger = Logger(label: "jobq.engine")
    ) {
        self.store = store
        self.executor = executor
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        (commands, commandSink) = AsyncStream<Command>.makeStream()
    }

    // MARK: Service

    /// Recovers jobs a dead daemon left running, starts the dispatchers and workers of every
    /// configured queue and every queue with jobs in the store, and runs until a graceful
    /// shutdown has drained them.
    public func run() async throws {
        let recovered = try await store.recoverInterruptedJobs()
        if !recovered.isEmpty {
            // Their processes outlive a daemon killed with SIGKILL (outside systemd, which
            // empties the service's cgroup): stop them, so that two copies never run at once.
            let stopped = await executor.stopLeftovers(of: recovered)
            logger.warning("jobs left running by a stopped daemon were requeued (they run again)",
                           metadata: ["jobs": "\(recovered.map(\.rawValue))", "processes_stopped": "\(stopped)"])
        }
        let stored = try await store.counts().map(\.queue)
        // Paused before the last stop: paused before the first claim of this run.
        let paused = try await store.pausedQueues()
        for name in Set(configuration.concurrency.keys).union(stored).union(paused).sorted() { startQueue(name) }
        for name in paused {
            queues[name]?.paused = true
            logger.info("queue paused since before the start", metadata: ["queue": "\(name)"])
        }
        started = true
        for waiter in startWaiters { try? await waiter.putNowait(()) }
        startWaiters.removeAll()
        let sink = commandSink
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await command in commands {
                    switch command {
                    case .dispatcher(let name): group.addTask { await self.dispatch(name) }
                    case .worker(let name): group.addTask { await self.work(name) }
                    case .drainTimer: group.addTask { await self.drainTimer() }
                    }
                }
            }
        } onGracefulShutdown: {
            sink.yield(.drainTimer)
        }
        for subscriber in subscribers.values { subscriber.finish() }
        logger.info("engine stopped")
    }

    /// Returns once ``run()`` has recovered interrupted jobs and started its queues: the engine
    /// takes work. Throws `CancellationError` when the caller is cancelled first.
    public func untilStarted() async throws {
        if started { return }
        let signal = AsyncQueue<Void>(maxsize: 1)
        startWaiters.append(signal)
        try await signal.get()
    }

    /// One line for `systemctl status`: "2 running, 14 queued, 1 blocked".
    public func statusLine() async -> String {
        guard let counts = try? await store.counts() else { return "job store unavailable" }
        let total = { (state: JobState) in counts.reduce(0) { $0 + $1[state] } }
        var line = "\(total(.running)) running, \(total(.queued)) queued"
        if total(.blocked) > 0 { line += ", \(total(.blocked)) blocked" }
        if draining { line = "draining: " + line }
        return line
    }

    /// Whether the engine can still reach its store (checked before each watchdog ping).
    public func isHealthy() async -> Bool {
        (try? await store.counts()) != nil
    }

    // MARK: Queues

    /// The queue's runtime, created (with its dispatcher and workers) on first use.
    @discardableResult
    func startQueue(_ name: String) -> QueueRuntime {
        if let runtime = queues[name] { return runtime }
        let concurrency = max(1, configuration.concurrency[name] ?? configuration.defaultConcurrency)
        var runtime = QueueRuntime(queue: AsyncQueue(maxsize: concurrency), concurrency: concurrency)
        runtime.workers = draining ? 0 : concurrency
        queues[name] = runtime
        if !draining {
            commandSink.yield(.dispatcher(name))
            for _ in 0..<concurrency { commandSink.yield(.worker(name)) }
            logger.info("queue started", metadata: ["queue": "\(name)", "concurrency": "\(concurrency)"])
        }
        return runtime
    }

    /// Wakes the queue's dispatcher (a wake-up already pending absorbs this one).
    func wake(_ name: String) async {
        guard let wake = queues[name]?.wake else { return }
        try? await wake.putNowait(())
    }

    func wakeAll() async {
        for name in queues.keys { await wake(name) }
    }

    /// Stops claiming from a queue; jobs already claimed but not started go back to `queued`.
    /// Running jobs go on. The pause is recorded in the store first (it lasts across restarts);
    /// when that fails, nothing changes and the error is thrown.
    public func pause(_ name: String) async throws(JobStoreError) {
        try await store.setPaused(name, true)
        startQueue(name)
        queues[name]?.paused = true
        await replaceQueue(name)
        logger.info("queue paused", metadata: ["queue": "\(name)"])
    }

    /// Claims from the queue again (recorded in the store first, like ``pause(_:)``).
    public func resume(_ name: String) async throws(JobStoreError) {
        try await store.setPaused(name, false)
        startQueue(name)
        queues[name]?.paused = false
        await wake(name)
        logger.info("queue resumed", metadata: ["queue": "\(name)"])
    }

    /// Changes how many jobs of the queue run at once: more workers start now; when fewer, the
    /// extra workers stop as they finish their current job.
    public func setConcurrency(_ name: String, _ concurrency: Int) async {
        startQueue(name)
        guard var runtime = queues[name] else { return }
        let target = max(1, concurrency)
        let old = runtime.concurrency
        runtime.concurrency = target
        if target > runtime.workers, !draining {
            for _ in runtime.workers..<target { commandSink.yield(.worker(name)) }
            runtime.workers = target
        }
        queues[name] = runtime
        if target != old { await replaceQueue(name) }
        logger.info("queue concurrency changed", metadata: ["queue": "\(name)", "concurrency": "\(target)"])
    }

    /// Puts a fresh `AsyncQueue` (with the current concurrency as `maxsize`) in place of the
    /// queue's, and gives the old one's unstarted jobs back to the store. Workers waiting on the
    /// old queue wake (it is shut down) and move to the new one, or retire.
    private func replaceQueue(_ name: String) async {
        guard let runtime = queues[name] else { return }
        let old = runtime.queue
        queues[name]?.queue = AsyncQueue(maxsize: runtime.concurrency)
        let unstarted = await old.shutdown(immediate: true)
        await release(unstarted)
        await wake(name)
    }

    /// The queues and their state.
    public func queueStatus() -> [QueueStatus] {
        queues.keys.sorted().compactMap { name in
            queues[name].map { QueueStatus(name: name, concurrency: $0.concurrency, paused: $0.paused, running: $0.running.count) }
        }
    }

    // MARK: Submitting, cancelling, retrying

    /// Stores jobs (all or none) and wakes their queues; returns once they are durable.
    public func submit(_ specs: [JobSpec]) async throws(JobStoreError) -> [SubmittedJob] {
        let submitted = try await store.insert(specs)
        for item in submitted where item.created {
            startQueue(item.job.spec.queue)
            publish(.submitted(item.job))
            if item.job.state.isTerminal { await terminal([item.job.id]) }
        }
        // A paused queue's dispatcher would only wake to sleep again; `resume` wakes it.
        for name in Set(submitted.map(\.job.spec.queue)) where queues[name]?.paused == false { await wake(name) }
        return submitted
    }

    /// Cancels a queued, blocked or running job; a running one is stopped (SIGTERM to its group,
    /// the grace period, SIGKILL).
    public func cancel(_ id: JobID, reason: String = "cancelled") async throws(JobStoreError) -> CancelledJob {
        let cancelled = try await store.cancel(id, reason: reason)
        let name = cancelled.job.spec.queue
        if cancelled.previousState == .running, !recording.contains(id) {
            cancelledByUser.insert(id)
            queues[name]?.running[id]?.request()
        }
        publish(.finished(cancelled.job))
        await terminal([id] + cancelled.failedDependents)
        await publishFinished(cancelled.failedDependents)
        return cancelled
    }

    /// Queues a failed or cancelled job again, from its first attempt.
    public func retry(_ id: JobID) async throws(JobStoreError) -> Job {
        let job = try await store.requeue(id)
        startQueue(job.spec.queue)
        publish(.requeued(job))
        await wake(job.spec.queue)
        return job
    }

    // MARK: Waiting

    /// Returns the jobs once every one of them has reached a terminal state. Throws
    /// `CancellationError` when the calling task is cancelled, and ``JobStoreError/notFound(_:)``
    /// for an unknown id.
    public func wait(for ids: [JobID]) async throws -> [Job] {
        let token = nextTokenValue()
        let signal = AsyncQueue<Void>(maxsize: 1)
        idWaiters[token] = (Set(ids), signal)
        defer { idWaiters[token] = nil }
        for id in Set(ids) {
            guard let job = try await store.job(id) else { throw JobStoreError.notFound(id) }
            if job.state.isTerminal { await resolve(id) }
        }
        if idWaiters[token]?.remaining.isEmpty == false {
            try await signal.get()
        }
        var jobs: [Job] = []
        for id in ids {
            guard let job = try await store.job(id) else { throw JobStoreError.notFound(id) }
            jobs.append(job)
        }
        return jobs
    }

    /// Returns once every job of `queue` (of every queue when `nil`) is in a terminal state:
    /// asyncio's `join`. Throws `CancellationError` when the calling task is cancelled.
    public func join(queue: String? = nil) async throws {
        let token = nextTokenValue()
        let signal = AsyncQueue<Void>(maxsize: 1)
        joinWaiters[token] = (queue, signal)
        defer { joinWaiters[token] = nil }
        for signal in joinObservers.reached(joinWaiters.count) { try? await signal.putNowait(()) }
        if try await liveCount(queue) > 0 {
            try await signal.get()
        }
    }

    /// Returns once at least `count` joins wait (for tests that finish jobs under waiting joins).
    func untilJoinWaiters(_ count: Int) async {
        guard let signal = joinObservers.signal(at: count, current: joinWaiters.count) else { return }
        _ = try? await signal.get()
    }

    /// Returns once at least `count` jobs have been claimed since the start (for tests of what
    /// a claimed job that waits for a worker records).
    func untilClaimed(_ count: Int) async {
        guard let signal = claimObservers.signal(at: count, current: claimedCount) else { return }
        _ = try? await signal.get()
    }

    private func nextTokenValue() -> Int {
        nextToken += 1
        return nextToken
    }

    private func liveCount(_ queue: String?) async throws -> Int {
        Self.liveCount(queue, in: try await store.counts())
    }

    /// Jobs not yet terminal (queued, blocked, running) in `queue`, or in every queue when nil.
    private static func liveCount(_ queue: String?, in counts: [QueueCounts]) -> Int {
        counts.filter { queue == nil || $0.queue == queue }
            .reduce(0) { $0 + $1[.queued] + $1[.blocked] + $1[.running] }
    }

    private func resolve(_ id: JobID) async {
        for (token, waiter) in idWaiters where waiter.remaining.contains(id) {
            idWaiters[token]?.remaining.remove(id)
            if idWaiters[token]?.remaining.isEmpty == true { try? await waiter.signal.putNowait(()) }
        }
    }

    /// Jobs reached a terminal state: resolve waits for them, and recheck the joins. One recheck
    /// runs at a time; terminal states that arrive meanwhile make it look once more, so that a
    /// burst of finishes costs a few count queries, not one each.
    ///
    /// `queue`: the queue of every one of `ids`, when the caller knows it. The recheck is then
    /// skipped while another job of that queue runs (and was not cancelled: the store has it
    /// `running`): no join these jobs concern (of their queue, or of all) can be done yet, and a
    /// join of another queue is not concerned. So a steady run of finishes costs no count query.
    func terminal(_ ids: [JobID], queue: String? = nil) async {
        for id in ids { await resolve(id) }
        if joinWaiters.isEmpty { return }
        if let queue, let running = queues[queue]?.running.keys,
           running.contains(where: { !cancelledByUser.contains($0) }) { return }
        joinRecheckNeeded = true
        if joinRecheckRunning { return }
        joinRecheckRunning = true
        defer { joinRecheckRunning = false }
        while joinRecheckNeeded, !joinWaiters.isEmpty {
            joinRecheckNeeded = false
            guard let counts = try? await store.counts() else { return }
            for (_, waiter) in joinWaiters {
                if Self.liveCount(waiter.queue, in: counts) == 0 { try? await waiter.signal.putNowait(()) }
            }
        }
    }

    // MARK: Events

    /// Jobs submitted and finished since the engine started, and their run times.
    public func metrics() -> EngineMetrics { counters }

    /// Job changes from now on, until the engine stops. A subscriber that falls more than 4,096
    /// events behind loses the oldest.
    public func events() -> AsyncStream<EngineEvent> {
        let (stream, continuation) = AsyncStream<EngineEvent>.makeStream(bufferingPolicy: .bufferingNewest(4096))
        subscribers[nextTokenValue()] = continuation
        return stream
    }

    /// Sends an event to every subscriber, forgetting those whose stream has ended.
    func publish(_ event: EngineEvent) {
        counters.record(event)
        for (token, subscriber) in subscribers {
            if case .terminated = subscriber.yield(event) { subscribers[token] = nil }
        }
    }

    private func publishFinished(_ ids: [JobID]) async {
        for id in ids {
            if let job = try? await store.job(id) { publish(.finished(job)) }
        }
    }

    // MARK: Dispatcher

    /// Claims ready jobs of one queue into its `AsyncQueue` until the engine drains.
    func dispatch(_ name: String) async {
        while !draining, !Task.isCancelled {
            guard let runtime = queues[name] else { return }
            if runtime.paused {
                await sleep(name, until: nil)
                continue
            }
            let free = Self.claimLimit(concurrency: runtime.concurrency, waiting: await runtime.queue.count)
            if free == 0 {
                await sleep(name, until: nil)  // until a worker's get leaves the queue low
                continue
            }
            let claimed: [Job]
            do {
                claimed = try await store.claim(queue: name, limit: free)
            } catch {
                logger.error("cannot claim jobs", metadata: ["queue": "\(name)", "error": "\(error)"])
                await sleep(name, until: clock.now().advanced(by: configuration.storeRetryDelay))
                continue
            }
            if claimed.isEmpty {
                let next = try? await store.nextRunAt(queue: name, after: clock.now())
                await sleep(name, until: next)
                continue
            }
            claimedCount += claimed.count
            for signal in claimObservers.reached(claimedCount) { try? await signal.putNowait(()) }
            for (index, job) in claimed.enumerated() {
                if !(await hand(job, to: name)) {
                    await release(Array(claimed[index...]))
                    break
                }
            }
        }
    }

    /// How many jobs the dispatcher claims now for a queue of `concurrency` slots of which
    /// `waiting` hold claimed jobs: none while at least ``refillLevel(_:)`` do, else as many as
    /// fill it, in one claim. So a claim moves several jobs when it can (with 2 workers, 2 at a
    /// time: half as many claim transactions as jobs), the queue does not run dry while the
    /// claim commits (more than 2 slots), and at most twice the concurrency is claimed ahead
    /// of its end (the queue's jobs and the running ones), the `put`s never waiting.
    static func claimLimit(concurrency: Int, waiting: Int) -> Int {
        waiting < refillLevel(concurrency) ? max(0, concurrency - waiting) : 0
    }

    /// Below this many waiting jobs (half the slots, rounded up: an empty queue for 1 or 2),
    /// the queue is refilled; the worker whose `get` leaves it there wakes the dispatcher.
    static func refillLevel(_ concurrency: Int) -> Int { (concurrency + 1) / 2 }

    /// Puts a claimed job into the queue's current `AsyncQueue`, following it when it is
    /// replaced. `false` when the job must go back to the store (draining, paused).
    private func hand(_ job: Job, to name: String) async -> Bool {
        while !draining, !Task.isCancelled, let runtime = queues[name], !runtime.paused {
            do {
                try await runtime.queue.put(job)
                return true
            } catch {
                continue  // shut down: replaced (concurrency, pause) or draining; look again
            }
        }
        return false
    }

    /// Suspends the dispatcher until it is woken or `deadline` comes.
    private func sleep(_ name: String, until deadline: Timestamp?) async {
        guard let wake = queues[name]?.wake else { return }
        guard let deadline else {
            // The common case (nothing delayed): the wake-up's `get` alone, without a task group,
            // whose child task would cost a task creation and two more hand-offs between the
            // executor's threads per wake-up. Cancellation ends the `get` as it ends the group.
            _ = try? await wake.get()
            return
        }
        let clock = self.clock
        await withTaskGroup(of: Void.self) { group in
            group.addTask { _ = try? await wake.get() }
            group.addTask { try? await clock.sleep(until: deadline) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Gives claimed jobs that never started back to the store.
    func release(_ jobs: [Job]) async {
        for job in jobs {
            do {
                let released = try await store.release(job.id)
                publish(.requeued(released))
            } catch {
                // Cancelled meanwhile (no longer running) or the store failed: recovery at the next
                // start puts a job still marked running back.
                logger.debug("claimed job not released", metadata: ["job": "\(job.id)", "error": "\(error)"])
            }
        }
    }

    // MARK: Workers

    /// One worker of a queue: get → run → record → taskDone, until the engine drains or the
    /// queue has more workers than its concurrency.
    func work(_ name: String) async {
        // Each outcome is recorded in a child task while the worker goes on to its next job, so
        // that the commits of consecutive jobs group together; the worker returns only once all
        // its records are durable.
        let stopped = await withDiscardingTaskGroup(returning: Bool.self) { recorders in
            while let runtime = queues[name], !draining {
                if runtime.workers > runtime.concurrency {
                    queues[name]?.workers -= 1
                    return true  // retired: the queue has fewer slots now
                }
                let queue = runtime.queue
                let job: Job
                do {
                    job = try await queue.get()
                    if await queue.count < Self.refillLevel(runtime.concurrency) { await wake(name) }
                } catch is CancellationError {
                    return true  // the engine's task was cancelled: no drain, just stop
                } catch {
                    continue  // shut down: replaced, paused or draining; look again
                }
                if cancelledByUser.remove(job.id) == nil {
                    let (started, outcome) = await run(job, in: name)
                    recorders.addTask { await self.record(outcome, of: started, in: name) }
                }
                try? await queue.taskDone()
            }
            return false
        }
        if stopped { return }
        // Draining: the last worker out says so.
        let remaining = max(0, (queues[name]?.workers ?? 1) - 1)
        queues[name]?.workers = remaining
        if queues.values.allSatisfy({ $0.workers == 0 }) { try? await workersGone.putNowait(()) }
    }

    /// Runs one job, stoppable through `running[id]` (cancel, drain). Its `startedAt` becomes
    /// now: the claim's time was when it entered the queue, which may be a whole job earlier
    /// when every worker was busy; the outcome's record stores this one.
    private func run(_ job: Job, in name: String) async -> (Job, JobOutcome) {
        var job = job
        job.startedAt = clock.now()
        let stop = RunStop()
        queues[name]?.running[job.id] = stop
        publish(.started(job))
        let outcome = await executor.run(job, stop: stop)
        queues[name]?.running[job.id] = nil
        recording.insert(job.id)
        return (job, outcome)
    }

    private func record(_ outcome: JobOutcome, of job: Job, in name: String) async {
        // Built only by a message that is logged (swift-log takes metadata as an autoclosure):
        // at the default level, a success logs nothing, and its description cost every job.
        func metadata() -> Logger.Metadata { ["job": "\(job.id)", "queue": "\(name)", "outcome": "\(outcome)"] }
        defer { recording.remove(job.id) }
        if cancelledByUser.remove(job.id) != nil {
            logger.info("job cancelled while running", metadata: metadata())
            return  // the store recorded the cancel; waiters were resolved by cancel()
        }
        if case .cancelled = outcome, Task.isCancelled, !draining {
            // The engine's own task was cancelled (not a drain): record nothing; the job stays
            // running in the store and the next start requeues it.
            logger.warning("job stopped by cancellation; left for recovery", metadata: metadata())
            return
        }
        do {
            if case .cancelled = outcome, draining {
                let released = try await store.release(job.id)
                publish(.requeued(released))
                logger.info("job stopped by the drain; requeued", metadata: metadata())
                return
            }
            if outcome.isSuccess {
                let finished = try await store.finish(job.id, .succeeded, startedAt: job.startedAt)
                publish(.finished(finished.job))
                if !finished.unblocked.isEmpty { await wakeAll() }
                await terminal([job.id], queue: name)
                logger.debug("job succeeded", metadata: metadata())
                return
            }
            if job.hasAttemptsLeft {
                let at = clock.now().advanced(by: job.spec.retry.backoff(afterFailedAttempts: job.attempts))
                let failure = outcome.completion
                guard case let .failed(exitCode, signal, reason) = failure else { return }
                let queued = try await store.scheduleRetry(
                    job.id, at: at, exitCode: exitCode, signal: signal, reason: reason, startedAt: job.startedAt)
                publish(.requeued(queued))
                await wake(name)
                logger.info("job failed; it will run again", metadata: metadata().merging(["at": "\(at)"]) { $1 })
                return
            }
            let finished = try await store.finish(job.id, outcome.completion, startedAt: job.startedAt)
            publish(.finished(finished.job))
            await terminal([job.id] + finished.failedDependents)
            await publishFinished(finished.failedDependents)
            logger.info("job failed", metadata: metadata())
        } catch JobStoreError.illegalTransition(_, from: .cancelled, to: _) {
            // A user cancelled the job after its run had ended, before its outcome was recorded:
            // the cancel committed first, and the job stays cancelled.
            logger.info("job cancelled while its outcome was being recorded", metadata: metadata())
        } catch {
            logger.error("cannot record a job's outcome; it stays running until the next start requeues it",
                         metadata: metadata().merging(["error": "\(error)"]) { $1 })
        }
    }

    // MARK: Drain

    /// On graceful shutdown: stop claiming, give unstarted jobs back, let running jobs go on for
    /// the grace period, then stop them (they are requeued), and end the run loop.
    private func drainTimer() async {
        guard !draining else { return }
        draining = true
        logger.info("draining: no more claims; running jobs get the grace period",
                    metadata: ["grace": "\(configuration.drainGrace)"])
        for name in queues.keys.sorted() {
            guard let runtime = queues[name] else { continue }
            await wake(name)
            let unstarted = await runtime.queue.shutdown(immediate: true)
            await release(unstarted)
        }
        // Count the workers still to exit; each one that exits counts down.
        if queues.values.allSatisfy({ $0.workers == 0 }) { try? await workersGone.putNowait(()) }
        let clock = self.clock
        let deadline = clock.now().advanced(by: configuration.drainGrace)
        let gone = workersGone
        let graceOver: Bool = await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await gone.get()) == nil }
            group.addTask {
                do {
                    try await clock.sleep(until: deadline)
                    return true
                } catch {
                    return false
                }
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        if graceOver {
            let running = queues.values.flatMap { $0.running.values }
            logger.warning("grace period over: stopping running jobs", metadata: ["count": "\(running.count)"])
            for stop in running { stop.request() }
        }
        commandSink.finish()
    }
}
