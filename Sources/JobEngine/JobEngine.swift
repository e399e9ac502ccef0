import AsyncQueues
import JobBasics
import JobModel
import JobRunner
import JobStoring
import Logging
import ServiceLifecycle

/// The daemon's core: asyncio's producer/consumer pattern over the durable store.
///
/// Decisions are ``EngineState``'s (a value that takes inputs and returns actions), kept in an
/// ``EngineCore`` under a lock. Whoever has an input (the store's writer when a claim or a
/// record commits, the launcher's thread when a command ends, a caller's cancel, the timer)
/// takes the lock, hands the input in, and carries out the actions itself: a job's end goes
/// launcher → writer → launcher with no hop through the task pool. The actor keeps what tasks
/// wait on (waits and joins, the start-up latch) and the engine's life as a `Service`.
///
/// Run it as a swift-service-lifecycle `Service`: on graceful shutdown it stops claiming, gives
/// claimed jobs that never started back, lets running jobs go on for
/// ``EngineConfiguration/drainGrace``, then stops them and puts them back to `queued` (the
/// attempt does not count), and returns.
public actor JobEngine: Service {
    let store: any JobStoring
    let executor: any JobExecutor
    let clock: any EngineClock
    let configuration: EngineConfiguration
    let logger: Logger

    /// The decisions, and what the threads that feed them share.
    let core: Locked<EngineCore>
    /// Waits and joins.
    var waits = WaitRegistry()
    let hub = EventHub()
    /// The actor's inbox: what concerns waits and joins, and the drain's end, in order.
    let messages: AsyncStream<EngineMessage>
    let inbox: AsyncStream<EngineMessage>.Continuation
    /// Wakes the timer when the earliest deadline changes.
    let timerBell = Doorbell()
    /// Lease requests waiting for work.
    let leaseWaiters = LeaseWaiters()
    /// Resumed once start-up recovery is done.
    var startWaiters: [AsyncQueue<Void>] = []
    /// Tests: who waits for a number of joins.
    var joinObservers = CountSignals()
    /// Submitters looked up for the submit policy.
    let submitters = IdentityCache()

    public init(
        store: any JobStoring,
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
        core = Locked(EngineCore(state: EngineState(defaultConcurrency: configuration.defaultConcurrency,
                                                    configuredConcurrency: configuration.concurrency,
                                                    maxRunning: configuration.maxRunning,
                                                    servedQueues: configuration.servedQueues)))
        (messages, inbox) = AsyncStream<EngineMessage>.makeStream()
    }

    /// The daemon's own user, who may always submit and, like root, act on every job and queue.
    public nonisolated var daemonUID: UInt32 { configuration.daemonUID }

    /// Whether the user of `uid` belongs to group `gid`, as the group database says (a lookup
    /// stands for a few seconds).
    public nonisolated func isMember(_ uid: UInt32, ofGroup gid: UInt32) -> Bool {
        submitters.identity(of: uid)?.groups.contains(gid) ?? false
    }

    /// The uid of the user named `name` (a number is taken as a uid), or nil when the system
    /// has no such user.
    public nonisolated func uid(ofUser name: String) -> UInt32? {
        UInt32(name) ?? JobIdentity.uid(ofUser: name)
    }

    /// Throws ``JobStoreError/submitterRefused(_:)`` when the submit policy refuses a spec's
    /// submitter.
    private nonisolated func admit(_ specs: [JobSpec]) throws(JobStoreError) {
        guard let policy = configuration.submitPolicy else { return }
        for uid in Set(specs.compactMap(\.submitterUID)) {
            if let refusal = policy.refusal(uid: uid, identity: submitters.identity(of: uid), daemonUID: configuration.daemonUID) {
                throw .submitterRefused(refusal)
            }
        }
    }

    // MARK: Service

    /// Recovers jobs a dead daemon left running, starts every configured queue and every queue
    /// with jobs in the store, and runs until a graceful shutdown has drained them.
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
        // Set with `jobq workers` before the last stop: over the configuration's.
        let workers = try await store.storedWorkers()
        let names = Set(configuration.concurrency.keys).union(stored).union(paused).union(workers.keys).sorted()
        // Payload queues serve consumers; leases held before the stop run on until they expire.
        let payloadQueues = try await store.payloadQueues()
        let leaseExpiry = try await store.nextLeaseExpiry()
        for name in paused { logger.info("queue paused since before the start", metadata: ["queue": "\(name)"]) }
        let grace = configuration.drainGrace
        let clock = self.clock
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.runTimer() }
                for (name, count) in workers.sorted(by: { $0.key < $1.key }) { self.decide(.concurrencyChanged(name, count)) }
                self.decide(.started(queues: names, paused: Set(paused), payloadQueues: payloadQueues, leaseExpiry: leaseExpiry))
                for name in names { self.logger.info("queue started", metadata: ["queue": "\(name)"]) }
                for waiter in self.startWaiters { try? await waiter.putNowait(()) }
                self.startWaiters.removeAll()
                var drained = false
                for await message in self.messages {
                    if await self.apply(message, in: &group) {
                        drained = true
                        break
                    }
                }
                if !drained { await self.abandonRuns() }
                group.cancelAll()  // the timer and join counts; the runs have ended
            }
        } onGracefulShutdown: { [self] in
            let running = core.withLock { $0.state.jobs.keys.sorted() }
            logger.info("draining: no more claims; the running jobs get the grace period to finish, then are stopped and run again at the next start",
                        metadata: ["grace": "\(grace)", "running": "\(running.map(\.rawValue))"])
            decide(.drain(graceDeadline: clock.now().advanced(by: grace)))
        }
        hub.finish()
        logger.info("engine stopped")
    }

    /// Returns once ``run()`` has recovered interrupted jobs and started its queues: the engine
    /// takes work. Throws `CancellationError` when the caller is cancelled first.
    public func untilStarted() async throws {
        if state.lifecycle != .starting { return }
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
        if case .draining = core.withLock({ $0.state.lifecycle }) { line = "draining: " + line }
        return line
    }

    /// Whether the engine can still reach its store (checked before each watchdog ping).
    public func isHealthy() async -> Bool {
        (try? await store.counts()) != nil
    }

    /// During a drain: ends the grace now, so that running jobs are stopped and go back to
    /// `queued` (the attempt not counted) instead of being waited for.
    public func endGraceNow() {
        decide(.drain(graceDeadline: clock.now()))
    }

    /// The cap on running jobs over every queue, when one is set.
    public nonisolated var maxRunning: Int? { configuration.maxRunning }

    /// How many jobs the engine holds (running, being stopped or recorded).
    public nonisolated var heldJobs: Int { core.withLock { $0.state.jobs.count } }

    // MARK: Queues

    /// Stops claiming from a queue; jobs already claimed but not started go back to `queued`.
    /// Running jobs go on. The pause is recorded in the store first (it lasts across restarts);
    /// when that fails, nothing changes and the error is thrown.
    public func pause(_ name: String) async throws(JobStoreError) {
        try await store.setPaused(name, true)
        decide(.paused(name))
        logger.info("queue paused", metadata: ["queue": "\(name)"])
    }

    /// Claims from the queue again (recorded in the store first, like ``pause(_:)``).
    public func resume(_ name: String) async throws(JobStoreError) {
        try await store.setPaused(name, false)
        decide(.resumed(name))
        leaseWaiters.workArrived(in: name, count: nil)
        logger.info("queue resumed", metadata: ["queue": "\(name)"])
    }

    /// Changes how many jobs of the queue run at once: more start now; when fewer, running
    /// ones finish. Recorded in the store first (it lasts across restarts, over the
    /// configuration's number); when that fails, nothing changes and the error is thrown.
    public func setConcurrency(_ name: String, _ concurrency: Int) async throws(JobStoreError) {
        try await store.setWorkers(name, max(1, concurrency))
        decide(.concurrencyChanged(name, concurrency))
        logger.info("queue concurrency changed", metadata: ["queue": "\(name)", "concurrency": "\(max(1, concurrency))"])
    }

    /// The queues and their state: those the engine runs (configured, with jobs, or used since
    /// the start), as it has decided so far.
    public func queueStatus() -> [QueueStatus] {
        let queues = core.withLock { $0.state.queues }
        return queues.keys.sorted().compactMap { name in
            queues[name].map {
                QueueStatus(name: name, concurrency: $0.concurrency, paused: $0.lifecycle == .paused, running: $0.running,
                            servesConsumers: $0.servesConsumers, waitingConsumers: leaseWaiters.waitingCount(in: name))
            }
        }
    }

    // MARK: Submitting, cancelling, retrying

    /// Stores jobs (all or none), tells the engine that its queues have work, and returns once
    /// they are durable (see ``submit(_:completion:)``).
    public nonisolated func submit(_ specs: [JobSpec]) async throws(JobStoreError) -> [SubmittedJob] {
        let result: Result<[SubmittedJob], JobStoreError> = await withCheckedContinuation { continuation in
            submit(specs) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// ``submit(_:)`` for a caller that is not a task (the API's submit handler on its event
    /// loop): `completion` is called once, on the store's writer thread after the commit.
    public nonisolated func submit(
        _ asked: [JobSpec], completion: @escaping @Sendable (Result<[SubmittedJob], JobStoreError>) -> Void
    ) {
        let specs: [JobSpec]
        do throws(JobStoreError) {
            try admit(asked)
            specs = try configuration.admitting(asked)
        } catch {
            return completion(.failure(error))
        }
        store.insert(specs) { [self] result in
            if case .success(let submitted) = result {
                var queues = Set<String>()
                var payloads: [String: Int] = [:]
                var terminal: [JobID] = []
                for item in submitted where item.created {
                    if item.job.spec.command.isPayload {
                        payloads[item.job.spec.queue, default: 0] += 1
                    } else {
                        queues.insert(item.job.spec.queue)
                    }
                    hub.publish(.submitted(item.job))
                    if item.job.state.isTerminal { terminal.append(item.job.id) }
                }
                if !queues.isEmpty { decide(.workArrived(queues: queues)) }
                if !payloads.isEmpty {
                    decide(.consumersServe(Set(payloads.keys)))
                    for (queue, count) in payloads { leaseWaiters.workArrived(in: queue, count: count) }
                }
                if !terminal.isEmpty { tellWaiters(terminal, queue: nil) }
            }
            completion(result)
        }
    }

    /// Cancels a queued, blocked or running job; a running one is stopped (SIGTERM to its group,
    /// the grace period, SIGKILL).
    public func cancel(_ id: JobID, reason: String = "cancelled") async throws(JobStoreError) -> CancelledJob {
        let cancelled = try await store.cancel(id, reason: reason)
        decide(.cancelled(id, queue: cancelled.job.spec.queue, previousState: cancelled.previousState))
        hub.publish(.finished(cancelled.job))
        await publishFinished(cancelled.failedDependents)
        tellWaiters([id] + cancelled.failedDependents, queue: nil)
        return cancelled
    }

    /// Queues a failed or cancelled job again, from its first attempt.
    public func retry(_ id: JobID) async throws(JobStoreError) -> Job {
        let job = try await store.requeue(id)
        hub.publish(.requeued(job))
        if job.spec.command.isPayload {
            leaseWaiters.workArrived(in: job.spec.queue, count: 1)
        } else {
            decide(.workArrived(queues: [job.spec.queue]))
        }
        return job
    }

    // MARK: Events

    /// Jobs submitted and finished since the engine started, and their run times.
    public nonisolated func metrics() -> EngineMetrics { hub.metrics }

    /// Job changes from now on, until the engine stops. A subscriber that falls more than 4,096
    /// events behind loses the oldest.
    public nonisolated func events() -> AsyncStream<EngineEvent> { hub.subscribe() }

    /// Rings `bell` after each job change from now on (a stream made `bufferingNewest(1)`, so
    /// that changes its reader is not waiting for ring once), and returns the position from
    /// which ``changes(since:)`` gives them: for readers that take changes in batches, at no
    /// cost per change until they look. The bell is finished when the engine stops.
    public nonisolated func ring(_ bell: AsyncStream<Void>.Continuation) -> UInt64 { hub.ring(bell) }

    /// The changes from `position` on (the last 16,384 are kept), and the next position.
    public nonisolated func changes(since position: UInt64) -> ChangeBatch { hub.changes(since: position) }

    /// Publishes the jobs as finished (dependents a failure or a cancel failed, or jobs another
    /// node finished), read from the store.
    /// `counted`: whether this node's metrics count them (the jobs it finished itself).
    nonisolated func publishFinished(_ ids: [JobID], counted: Bool = true) async {
        for id in ids {
            if let job = try? await store.job(id) { hub.publish(.finished(job), counted: counted) }
        }
    }
}
