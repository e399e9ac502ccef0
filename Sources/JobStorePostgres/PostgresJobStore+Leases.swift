import JobModel
import JobStoring
import PostgresNIO

/// Payload jobs under lease (docs/consumers.md), as the SQLite store keeps them: a token names
/// the job and its run, so that only the current lease's holder can act on it, whichever node
/// the consumer talks to.
extension PostgresJobStore {
    /// Completes `completing`, then leases up to `limit` ready jobs of the payload queue to
    /// `consumer` for `duration`, in one transaction; rows another node is leasing at the same
    /// moment are skipped.
    public func lease(
        queue: String, limit: Int, for duration: Duration, consumer: String,
        completing: [(token: LeaseToken, result: JSONValue?)] = []
    ) async throws(JobStoreError) -> LeasedJobs {
        let now = clock()
        let time = now.millisecondsSinceEpoch
        let expiry = now.advanced(by: duration).millisecondsSinceEpoch
        let items = completing.map { LeaseCompletion(token: $0.token, result: $0.result) }
        return try await write { transaction in
            let completed = try await self.complete(items, now: now, in: transaction)
            let kind = try await transaction.values("SELECT kind FROM queue_kinds WHERE queue = \(queue)", as: String.self).first
            if kind == "command" {
                return LeasedJobs(jobs: [], nextRunAt: nil, completed: completed, refusal: .notAConsumerQueue(queue))
            }
            var leased = try await transaction.jobs("""
                UPDATE jobs SET state = 'running', attempts = attempts + 1, runs = runs + 1, started_at = \(time),
                    updated_at = \(time), finished_at = NULL, exit_code = NULL, signal = NULL, error = NULL,
                    lease_expires_at = \(expiry), consumer = \(consumer)
                WHERE id IN (
                    SELECT id FROM jobs
                    WHERE state = 'queued' AND queue = \(queue) AND run_at <= \(time)
                    ORDER BY priority DESC, run_at, id
                    LIMIT \(Int64(max(0, limit)))
                    FOR UPDATE SKIP LOCKED)
                RETURNING \(unescaped: jobColumns)
                """)
            leased.sort { a, b in
                if a.spec.priority != b.spec.priority { return a.spec.priority > b.spec.priority }
                return a.runAt != b.runAt ? a.runAt < b.runAt : a.id < b.id
            }
            var next: Timestamp?
            if leased.count < limit {
                next = try await transaction.values("""
                    SELECT min(run_at) FROM jobs WHERE state = 'queued' AND queue = \(queue)
                    """, as: Int64?.self).first?.map(Timestamp.init(millisecondsSinceEpoch:))
            }
            return LeasedJobs(jobs: leased, nextRunAt: next, completed: completed)
        }
    }

    /// Extends the lease `token` names to `duration` from now.
    public func heartbeat(_ token: LeaseToken, for duration: Duration) async throws(JobStoreError) -> Job {
        let now = clock()
        let expiry = now.advanced(by: duration).millisecondsSinceEpoch
        return try await write { transaction in
            try await self.updateLeased(token, now: now, in: transaction) { time in
                "lease_expires_at = \(expiry), updated_at = \(time)"
            }
        }
    }

    /// Completes the job of lease `token` with the consumer's result; again with the same
    /// token, answers the first completion and changes nothing.
    public func complete(_ token: LeaseToken, result: JSONValue?) async throws(JobStoreError) -> CompletedLease {
        let now = clock()
        let item = LeaseCompletion(token: token, result: result)
        let completed = try await write { transaction in try await self.complete(item, now: now, in: transaction) }
        if !completed.repeated { notifyFinished(completed.finished) }
        return completed
    }

    /// Completes many leases in one transaction, each with its own outcome.
    public func complete(
        _ items: [(token: LeaseToken, result: JSONValue?)]
    ) async throws(JobStoreError) -> [Result<CompletedLease, JobStoreError>] {
        let now = clock()
        let completions = items.map { LeaseCompletion(token: $0.token, result: $0.result) }
        let outcomes = try await write { transaction in try await self.complete(completions, now: now, in: transaction) }
        for case .success(let completed) in outcomes where !completed.repeated { notifyFinished(completed.finished) }
        return outcomes
    }

    /// Ends the attempt of lease `token` as failed: retried after its backoff, or failed.
    public func fail(_ token: LeaseToken, reason: String) async throws(JobStoreError) -> LeaseEnding {
        let now = clock()
        let ending = try await write { transaction in
            guard let job = try await self.heldJob(token, now: now, in: transaction) else {
                throw try await self.leaseRefusal(token, now: now, in: transaction)
            }
            return try await self.endLease(of: job, reason: reason, now: now, in: transaction)
        }
        notifyEnded(ending)
        return ending
    }

    /// Notices for a lease's end: its job ready again, or finished.
    func notifyEnded(_ ending: LeaseEnding) {
        switch ending {
        case .requeued(let job): notifyReady(job)
        case .failed(let finished): notifyFinished(finished)
        }
    }

    /// Gives the job of lease `token` back to its queue, to be leased again after `delay`.
    public func release(_ token: LeaseToken, delay: Duration) async throws(JobStoreError) -> Job {
        let now = clock()
        let runAt = now.advanced(by: delay).millisecondsSinceEpoch
        let job = try await write { transaction in
            try await self.updateLeased(token, now: now, in: transaction) { time in
                """
                state = 'queued', attempts = greatest(0, attempts - 1), run_at = \(runAt), updated_at = \(time),
                    started_at = NULL, lease_expires_at = NULL
                """
            }
        }
        notifyReady(job)
        return job
    }

    /// Ends every lease whose time is up, as failed attempts; says when the next one ends. Rows
    /// another node is expiring at the same moment are skipped.
    public func expireLeases() async throws(JobStoreError) -> ExpiredLeases {
        let now = clock()
        let expired = try await write { transaction in
            let due = try await transaction.jobs("""
                SELECT \(unescaped: jobColumns) FROM jobs
                WHERE lease_expires_at <= \(now.millisecondsSinceEpoch) AND state = 'running'
                ORDER BY lease_expires_at, id
                FOR UPDATE SKIP LOCKED
                """)
            var ended: [LeaseEnding] = []
            for job in due {
                let late = job.lease.map { "its lease by \($0.consumer) expired at \($0.expiresAt)" } ?? "its lease expired"
                ended.append(try await self.endLease(of: job, reason: late, now: now, in: transaction))
            }
            return ExpiredLeases(ended: ended, nextExpiry: try await self.nextLeaseExpiry(in: transaction))
        }
        for ending in expired.ended { notifyEnded(ending) }
        return expired
    }

    /// When the earliest lease held now ends.
    public func nextLeaseExpiry() async throws(JobStoreError) -> Timestamp? {
        try await write { transaction in try await self.nextLeaseExpiry(in: transaction) }
    }

    private func nextLeaseExpiry(in transaction: PostgresTransaction) async throws -> Timestamp? {
        try await transaction.values("""
            SELECT min(lease_expires_at) FROM jobs WHERE lease_expires_at IS NOT NULL AND state = 'running'
            """, as: Int64?.self).first?.map(Timestamp.init(millisecondsSinceEpoch:))
    }
}

/// A lease to complete and the consumer's result.
struct LeaseCompletion: Sendable {
    var token: LeaseToken
    var result: JSONValue?
}
