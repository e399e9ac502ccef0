import JobBasics
import JobModel
import JobStoring
import Logging

/// Payload jobs for external consumers (docs/consumers.md): leases, long polls, heartbeats,
/// completions, and the timer that ends leases whose time is up. The store checks every token;
/// the engine wakes waiting consumers, keeps the expiry timer, and tells waits, joins and the
/// event stream.
extension JobEngine {
    /// The longest a lease request may wait for work.
    public static let longestLeaseWait: Duration = .seconds(30)

    /// Leases up to `max` ready jobs of the payload queue `queue` to `consumer` for
    /// `duration`. With none ready, waits up to `wait` for one (woken by its arrival, not by
    /// polling), then returns what it found, perhaps nothing. A paused queue leases nothing.
    /// Throws `CancellationError` when the calling task is cancelled (jobs leased at that
    /// moment go back to the queue, their attempt not counted).
    public nonisolated func lease(
        queue: String, max: Int, wait: Duration, for duration: Duration, consumer: String
    ) async throws -> [Job] {
        try await lease(queue: queue, max: max, wait: wait, for: duration, consumer: consumer, completing: []).jobs
    }

    /// ``lease(queue:max:wait:for:consumer:)`` that first completes the leases in `completing`,
    /// in the same transaction as the first look (one commit for a consumer's "done, next");
    /// each completion's outcome is in the answer, and stands whatever the lease finds.
    public nonisolated func lease(
        queue: String, max: Int, wait: Duration, for duration: Duration, consumer: String,
        completing: [(token: LeaseToken, result: JSONValue?)]
    ) async throws -> LeaseOutcome {
        let deadline = clock.now().advanced(by: min(wait, Self.longestLeaseWait))
        var completing = completing
        var completed: [Result<Job, JobStoreError>] = []
        while true {
            let seen = leaseWaiters.arrivals(in: queue)
            var next: Timestamp?
            let paused = isPaused(queue)
            if !paused || !completing.isEmpty {
                let found = try await store.lease(queue: queue, limit: paused ? 0 : max, for: duration,
                                                          consumer: consumer, completing: completing)
                if !completing.isEmpty {
                    completed = completedLeases(found.completed)
                    completing = []
                }
                if let refusal = found.refusal { throw refusal }
                if !found.jobs.isEmpty {
                    if Task.isCancelled {
                        for token in found.jobs.compactMap(\.lease?.token) { _ = try? await release(token, delay: .zero) }
                        throw CancellationError()
                    }
                    leased(found.jobs)
                    return LeaseOutcome(jobs: found.jobs, completed: completed)
                }
                next = found.nextRunAt
            }
            let now = clock.now()
            if now >= deadline { return LeaseOutcome(jobs: [], completed: completed) }
            try await leaseWaiters.wait(in: queue, seen: seen, until: min(deadline, next.map { Swift.max($0, now) } ?? deadline), clock: clock)
        }
    }

    /// Extends lease `token` to `duration` from now. Throws ``JobStoreError/leaseLost(_:_:)``
    /// once the lease is no longer held, which is how a consumer learns that its job was
    /// cancelled.
    public nonisolated func heartbeat(_ token: LeaseToken, for duration: Duration) async throws(JobStoreError) -> Job {
        let job = try await store.heartbeat(token, for: duration)
        if let lease = job.lease { decide(.leaseHeld(until: lease.expiresAt)) }
        return job
    }

    /// Completes the job of lease `token` with the consumer's `result`; the same token again
    /// returns the job as it is.
    public nonisolated func complete(_ token: LeaseToken, result: JSONValue?) async throws(JobStoreError) -> Job {
        try completedLeases([.success(try await store.complete(token, result: result))])[0].get()
    }

    /// Completes many leases in one transaction; each item's outcome on its own.
    public nonisolated func complete(
        _ items: [(token: LeaseToken, result: JSONValue?)]
    ) async throws(JobStoreError) -> [Result<Job, JobStoreError>] {
        completedLeases(try await store.complete(items))
    }

    /// Tells the event stream, waits, joins and dependents of the leases a consumer completed.
    private nonisolated func completedLeases(_ outcomes: [Result<CompletedLease, JobStoreError>]) -> [Result<Job, JobStoreError>] {
        var finished: [JobID] = []
        var unblocked = false
        for case .success(let completed) in outcomes where !completed.repeated {
            hub.publish(.finished(completed.finished.job))
            finished.append(completed.finished.job.id)
            unblocked = unblocked || !completed.finished.unblocked.isEmpty
        }
        if unblocked { dependentsReady() }
        if !finished.isEmpty { tellWaiters(finished, queue: nil) }
        return outcomes.map { $0.map(\.finished.job) }
    }

    /// Fails the attempt of lease `token`: retried after the job's backoff while it has attempts
    /// left, else failed.
    public nonisolated func fail(_ token: LeaseToken, reason: String) async throws(JobStoreError) -> Job {
        let ending = try await store.fail(token, reason: reason)
        leaseEnded(ending)
        return ending.job
    }

    /// Gives the job of lease `token` back to its queue, to be leased again after `delay`; the
    /// attempt does not count.
    public nonisolated func release(_ token: LeaseToken, delay: Duration) async throws(JobStoreError) -> Job {
        let job = try await store.release(token, delay: delay)
        hub.publish(.requeued(job))
        leaseWaiters.workArrived(in: job.spec.queue, count: 1)
        return job
    }

    /// How many lease requests wait for work in `queue`.
    public nonisolated func waitingConsumers(in queue: String) -> Int { leaseWaiters.waitingCount(in: queue) }

    /// Returns once at least `count` lease requests wait for work in `queue` (for tests).
    public nonisolated func untilConsumersWait(_ count: Int, in queue: String) async {
        await leaseWaiters.untilWaiting(count, in: queue)
    }

    // MARK: Effects

    /// Jobs a consumer leased: the event stream hears they started, the expiry timer of their end.
    private nonisolated func leased(_ jobs: [Job]) {
        for job in jobs { hub.publish(.started(job)) }
        if let until = jobs.compactMap(\.lease?.expiresAt).min() { decide(.leaseHeld(until: until)) }
    }

    /// A lease ended without success (a fail, an expiry): the job waits for another attempt, or
    /// failed (with the jobs that ran after it).
    nonisolated func leaseEnded(_ ending: LeaseEnding) {
        switch ending {
        case .requeued(let job):
            hub.publish(.requeued(job))
            leaseWaiters.workArrived(in: job.spec.queue, count: 1)
        case .failed(let finished):
            hub.publish(.finished(finished.job))
            if !finished.failedDependents.isEmpty { inbox.yield(.publishFinished(finished.failedDependents)) }
            tellWaiters([finished.job.id] + finished.failedDependents, queue: nil)
        }
    }

    /// The expiry timer's pass: ends the leases whose time is up, then tells the state when
    /// the next one ends.
    nonisolated func expireLeases() {
        store.expireLeases { [self] result in
            switch result {
            case .success(let expired):
                for ending in expired.ended {
                    logger.warning("a consumer's lease expired; the attempt counts as failed",
                                   metadata: ["job": "\(ending.job.id)", "queue": "\(ending.job.spec.queue)",
                                              "consumer": "\(ending.job.consumer ?? "")", "state": "\(ending.job.state)"])
                    leaseEnded(ending)
                }
                decide(.leasesExpired(next: expired.nextExpiry))
            case .failure(let error):
                logger.error("cannot end expired leases", metadata: ["error": "\(error)"])
                decide(.leasesExpired(next: clock.now().advanced(by: configuration.storeRetryDelay)))
            }
        }
    }

    /// Jobs waiting on others became `queued`: workers claim and consumers look again.
    nonisolated func dependentsReady() {
        decide(.dependentsReady)
        leaseWaiters.workArrivedAnywhere()
    }

    private nonisolated func isPaused(_ queue: String) -> Bool {
        core.withLock { $0.state.queues[queue]?.lifecycle == .paused }
    }
}

/// What a lease request got: the jobs it leased, and the outcome of each lease it completed first.
public struct LeaseOutcome: Sendable {
    public var jobs: [Job]
    public var completed: [Result<Job, JobStoreError>]
}
