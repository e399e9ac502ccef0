import JobModel

/// One named queue as ``EngineState`` sees it: whether it is paused, its slots, the jobs
/// claimed and waiting for a slot, and where its claims stand.
struct QueueState: Equatable {
    /// Paused queues claim nothing; their running jobs go on.
    enum Lifecycle: Equatable {
        case active
        case paused
    }

    /// Where the queue's claims stand.
    enum Claiming: Equatable {
        /// A claim may start (once the waiting jobs are below the refill level).
        case idle
        /// A claim is in flight; `rewoken` when work arrived meanwhile, so that the queue is
        /// claimed again even when this claim found less than it asked for.
        case inFlight(rewoken: Bool)
        /// The last claim found less than it asked for: nothing is claimed until work arrives
        /// or `until` comes (the earliest `run_at` of a delayed job; `nil`: not known yet, or none).
        case asleep(until: Timestamp?)
    }

    var lifecycle = Lifecycle.active
    var concurrency: Int
    var claiming = Claiming.idle
    /// Claimed jobs waiting for a slot, in claim order.
    var waiting: [JobID] = []
    /// Jobs whose command runs (or is being stopped).
    var running = 0

    init(concurrency: Int) {
        self.concurrency = concurrency
    }

    /// Below this many waiting jobs (half the slots, rounded up: an empty queue for 1 or 2),
    /// the queue is claimed again.
    static func refillLevel(_ concurrency: Int) -> Int { (concurrency + 1) / 2 }

    /// How many jobs to claim now, or `nil` when no claim is due: paused, a claim in flight or
    /// asleep, or enough jobs waiting. A claim fills the waiting list to the concurrency.
    func claimLimit() -> Int? {
        guard lifecycle == .active, claiming == .idle else { return nil }
        let limit = Self.claimLimit(concurrency: concurrency, waiting: waiting.count)
        return limit > 0 ? limit : nil
    }

    /// How many jobs to claim for `concurrency` slots of which `waiting` hold claimed jobs: none
    /// while at least ``refillLevel(_:)`` do, else as many as fill them (with 2 slots, 2 at a
    /// time: half as many claim transactions as jobs).
    static func claimLimit(concurrency: Int, waiting: Int) -> Int {
        waiting < refillLevel(concurrency) ? max(0, concurrency - waiting) : 0
    }

    /// The time the queue sleeps until, if it waits for a delayed job.
    var sleepsUntil: Timestamp? {
        if case .asleep(let until?) = claiming { return until }
        return nil
    }

    /// Work may have arrived: a queue asleep may claim again; one with a claim in flight
    /// claims again after it.
    mutating func wake() {
        switch claiming {
        case .idle: break
        case .inFlight: claiming = .inFlight(rewoken: true)
        case .asleep: claiming = .idle
        }
    }

    /// A claim returned `found` of the `asked` jobs: fewer means the queue has nothing more
    /// ready, unless work arrived meanwhile.
    mutating func claimEnded(found: Int, asked: Int, rewoken: Bool) {
        claiming = found < asked && !rewoken ? .asleep(until: nil) : .idle
    }
}
