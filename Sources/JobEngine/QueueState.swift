import JobModel

/// One named queue as ``EngineState`` sees it: whether it is paused, its slots, how many of
/// them run, and where its claims stand.
struct QueueState: Equatable {
    /// Paused queues claim nothing; their running jobs go on.
    enum Lifecycle: Equatable {
        case active
        case paused
    }

    /// Where the queue's claims stand.
    enum Claiming: Equatable {
        /// A claim may start (once a slot is free).
        case idle
        /// A claim is in flight; `rewoken` when work arrived meanwhile, so that the queue is
        /// claimed again even when this claim found less than it asked for.
        case inFlight(rewoken: Bool)
        /// The last claim found less than it asked for: nothing is claimed until work arrives
        /// or `until` comes (the earliest `run_at` of a delayed job; `nil`: not known yet, or none).
        case asleep(until: Timestamp?)
    }

    var lifecycle = Lifecycle.active
    /// The queue's jobs carry payloads for consumers, who lease them: jobqd's workers claim nothing.
    var servesConsumers = false
    var concurrency: Int
    var claiming = Claiming.idle
    /// Jobs whose command runs (or is being stopped).
    var running = 0
    /// How many jobs the claim in flight asked for (0 when none is).
    var asked = 0
    /// The last claim passed over ready jobs whose submitters were at `max_running_per_user`:
    /// the next run whose end is recorded wakes the queue, as it may free one of them.
    var waitsForRunEnd = false
    /// A run's end was recorded while the claim in flight was: that claim may have counted the
    /// job as still running against its submitter's cap.
    var runEndedDuringClaim = false

    init(concurrency: Int) {
        self.concurrency = concurrency
    }

    /// How many jobs to claim now, or `nil` when no claim is due: paused, a claim in flight or
    /// asleep, or no slot free. A claim takes only free slots, so that a claimed job starts at
    /// once and `running` in the store means its process runs.
    func claimLimit() -> Int? {
        guard lifecycle == .active, claiming == .idle, !servesConsumers else { return nil }
        let free = concurrency - running
        return free > 0 ? free : nil
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

    /// A claim returned `found` of the `asked` jobs, and `more` says whether a ready job was
    /// left: fewer, or none left, means the queue has nothing more ready, unless work arrived
    /// meanwhile. (Without `more`, the claim at the next free slot would find nothing.)
    mutating func claimEnded(found: Int, asked: Int, more: Bool, rewoken: Bool) {
        claiming = (found < asked || !more) && !rewoken ? .asleep(until: nil) : .idle
    }
}
