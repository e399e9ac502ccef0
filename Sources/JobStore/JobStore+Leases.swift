import CSQLite
import Foundation
import JobModel
import JobStoring

/// Payload jobs under lease (docs/consumers.md): a consumer leases ready jobs of a payload
/// queue, extends its lease, and completes, fails or releases each job with the lease's token.
/// A token names the job and its run, so that only the current lease's holder can act on it.
extension JobStore {
    /// Leases up to `limit` ready jobs of the payload queue `queue` (highest priority, then
    /// earliest `run_at`, then lowest id) to `consumer` for `duration`: each becomes `running`
    /// with one more attempt and one more run. Committed without an fsync of its own (see
    /// ``WriteOperation/synced``): a lease undone by a power cut leaves its jobs queued, and its
    /// consumers, on the same machine, died with the power. Throws
    /// ``JobStoreError/notAConsumerQueue(_:)`` for a queue of commands.
    ///
    /// `completing`: leases the consumer finished, completed first in the same transaction
    /// (which is then fsynced before the answer), each with its own outcome in
    /// ``LeasedJobs/completed``: a consumer's "done, next" is one commit.
    public func lease(
        queue: String, limit: Int, for duration: Duration, consumer: String,
        completing: [(token: LeaseToken, result: JSONValue?)] = []
    ) async throws(JobStoreError) -> LeasedJobs {
        try await write(synced: !completing.isEmpty) { context throws(JobStoreError) in
            let completed = try context.complete(completing)
            if try context.queueKind(queue) == false {
                // The completions stand; the lease is refused.
                return LeasedJobs(jobs: [], nextRunAt: nil, completed: completed, refusal: .notAConsumerQueue(queue))
            }
            let now = context.clock()
            let expiry = now.advanced(by: duration)
            var leased = try context.jobs("""
                UPDATE jobs SET state = 'running', attempts = attempts + 1, runs = runs + 1, started_at = ?1,
                    updated_at = ?1, finished_at = NULL, exit_code = NULL, signal = NULL, error = NULL,
                    lease_expires_at = ?4, consumer = ?5
                WHERE id IN (
                    SELECT id FROM jobs INDEXED BY jobs_ready
                    WHERE state = 'queued' AND queue = ?2 AND run_at <= ?1
                    ORDER BY priority DESC, run_at, id
                    LIMIT ?3)
                RETURNING \(jobColumns)
                """) { statement throws(SQLiteError) in
                try statement.bind(1, now.millisecondsSinceEpoch)
                try statement.bind(2, queue)
                try statement.bind(3, limit)
                try statement.bind(4, expiry.millisecondsSinceEpoch)
                try statement.bind(5, consumer)
            }
            leased.sort { a, b in
                if a.spec.priority != b.spec.priority { return a.spec.priority > b.spec.priority }
                return a.runAt != b.runAt ? a.runAt < b.runAt : a.id < b.id
            }
            let next = leased.count < limit ? try context.earliestRunAt(queue: queue) : nil
            return LeasedJobs(jobs: leased, nextRunAt: next, completed: completed)
        }
    }

    /// Extends the lease `token` names to `duration` from now. Without an fsync of its own, as
    /// a lease. Throws ``JobStoreError/leaseLost(_:_:)`` when the lease is no longer held (it
    /// expired, was released, or the job was cancelled: a consumer learns of a cancel here).
    public func heartbeat(_ token: LeaseToken, for duration: Duration) async throws(JobStoreError) -> Job {
        try await write(synced: false) { context throws(JobStoreError) in
            let now = context.clock()
            return try context.updateLeased(token, now: now, set: "lease_expires_at = ?4, updated_at = ?3") { statement throws(SQLiteError) in
                try statement.bind(4, now.advanced(by: duration).millisecondsSinceEpoch)
            }
        }
    }

    /// Completes the job of lease `token`: `succeeded`, with the consumer's `result`; the jobs
    /// that run after it are unblocked. Completing again with the same token returns the job
    /// as it is (the answer to the first may have been lost). Throws
    /// ``JobStoreError/leaseLost(_:_:)`` when the lease is no longer held.
    public func complete(_ token: LeaseToken, result: JSONValue?) async throws(JobStoreError) -> CompletedLease {
        try await write { context throws(JobStoreError) in try context.complete(token, result: result) }
    }

    /// Completes the jobs of many leases in one transaction (a consumer that leased a batch),
    /// each as ``complete(_:result:completion:)`` would: each item's outcome on its own, a stale
    /// token refused without holding back the others.
    public func complete(
        _ items: [(token: LeaseToken, result: JSONValue?)]
    ) async throws(JobStoreError) -> [Result<CompletedLease, JobStoreError>] {
        try await write { context throws(JobStoreError) in try context.complete(items) }
    }

    /// Fails the attempt of lease `token` with `reason`: the job runs again after its backoff
    /// when it has attempts left, else it fails (and the jobs that run after it with it).
    public func fail(_ token: LeaseToken, reason: String) async throws(JobStoreError) -> LeaseEnding {
        try await write { context throws(JobStoreError) in
            let now = context.clock()
            guard let job = try context.heldJob(token, now: now) else { throw try context.leaseRefusal(token, now: now) }
            return try context.endLease(of: job, reason: reason, now: now)
        }
    }

    /// Gives the job of lease `token` back to its queue, to be leased again after `delay`; the
    /// attempt does not count.
    public func release(_ token: LeaseToken, delay: Duration) async throws(JobStoreError) -> Job {
        try await write { context throws(JobStoreError) in
            let now = context.clock()
            return try context.updateLeased(token, now: now, set: """
                state = 'queued', attempts = max(0, attempts - 1), run_at = ?4, updated_at = ?3,
                    started_at = NULL, lease_expires_at = NULL
                """) { statement throws(SQLiteError) in
                try statement.bind(4, now.advanced(by: delay).millisecondsSinceEpoch)
            }
        }
    }

    /// Ends every lease whose time is up: each counts as a failed attempt (retried after the
    /// job's backoff, or failed once its attempts are spent). Returns what it ended and when
    /// the next lease ends.
    public func expireLeases(completion done: @escaping @Sendable (Result<ExpiredLeases, JobStoreError>) -> Void) {
        enqueueWrite { context throws(JobStoreError) in
            let now = context.clock()
            let due = try context.jobs("""
                SELECT \(jobColumns) FROM jobs INDEXED BY jobs_leases
                WHERE lease_expires_at <= ?1 AND state = 'running' ORDER BY lease_expires_at, id
                """) { statement throws(SQLiteError) in try statement.bind(1, now.millisecondsSinceEpoch) }
            var ended: [LeaseEnding] = []
            for job in due {
                let late = job.lease.map { "its lease by \($0.consumer) expired at \($0.expiresAt)" } ?? "its lease expired"
                ended.append(try context.endLease(of: job, reason: late, now: now))
            }
            return ExpiredLeases(ended: ended, nextExpiry: try context.nextLeaseExpiry())
        } completion: { done($0) }
    }

    /// When the earliest lease held now ends, if any lease is held.
    public func nextLeaseExpiry() async throws(JobStoreError) -> Timestamp? {
        try await read { context throws(JobStoreError) in try context.nextLeaseExpiry() }
    }

    /// The queues that serve consumers (their jobs carry payloads).
    public func payloadQueues() async throws(JobStoreError) -> Set<String> {
        try await read { context throws(JobStoreError) in
            try context.withStatement("SELECT queue FROM queue_kinds WHERE kind = 'payload'") { statement throws(SQLiteError) in
                var names = Set<String>()
                while try statement.step() { names.insert(statement.text(0)) }
                return names
            }
        }
    }
}
