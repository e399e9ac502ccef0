import CSQLite
import JobModel
import JobStoring

/// The statements leases and queue kinds share.
extension StoreContext {
    /// Whether `queue` serves consumers (`true`), runs commands (`false`), or has no kind yet.
    func queueKind(_ queue: String) throws(JobStoreError) -> Bool? {
        try withStatement("SELECT kind FROM queue_kinds WHERE queue = ?1") { statement throws(SQLiteError) in
            try statement.bind(1, queue)
            return try statement.step() ? statement.text(0) == "payload" : nil
        }
    }

    /// Checks that each spec's queue is of the spec's kind, giving a queue without one the kind
    /// of its first job (in this transaction: a refused batch leaves no kind behind).
    func settleQueueKinds(_ specs: [JobSpec]) throws(JobStoreError) {
        var known: [String: Bool] = [:]
        for (index, spec) in specs.enumerated() {
            let payload = spec.command.isPayload
            let kind: Bool
            if let seen = known[spec.queue] {
                kind = seen
            } else if let stored = try queueKind(spec.queue) {
                kind = stored
            } else {
                try withStatement("INSERT INTO queue_kinds (queue, kind) VALUES (?1, ?2)") { statement throws(SQLiteError) in
                    try statement.bind(1, spec.queue)
                    try statement.bind(2, payload ? "payload" : "command")
                    try statement.run()
                }
                kind = payload
            }
            known[spec.queue] = kind
            if kind != payload {
                throw .wrongQueueKind(index: specs.count == 1 ? nil : index, queue: spec.queue, payloadQueue: kind)
            }
        }
    }

    /// Updates the job of lease `token` with `assignments` when that lease is held now
    /// (`?1` is the job, `?2` its run, `?3` now; `bind` binds the rest), returning the job as
    /// it became; throws why the lease is not held (``leaseRefusal(_:now:)``).
    func updateLeased(
        _ token: LeaseToken, now: Timestamp, set assignments: String, bind: (Statement) throws(SQLiteError) -> Void
    ) throws(JobStoreError) -> Job {
        guard let job = try jobs("""
            UPDATE jobs SET \(assignments)
            WHERE id = ?1 AND runs = ?2 AND state = 'running' AND lease_expires_at > ?3
            RETURNING \(jobColumns)
            """, bind: { statement throws(SQLiteError) in
            try bindLease(token, now: now, to: statement)
            try bind(statement)
        }).first else {
            throw try leaseRefusal(token, now: now)
        }
        return job
    }

    /// Binds `?1` (the job), `?2` (its run) and `?3` (now) for a statement on a lease.
    private func bindLease(_ token: LeaseToken, now: Timestamp, to statement: Statement) throws(SQLiteError) {
        try statement.bind(1, token.job.rawValue)
        try statement.bind(2, token.run)
        try statement.bind(3, now.millisecondsSinceEpoch)
    }

    /// Completes the job of lease `token` (see ``JobStore/complete(_:result:)``).
    func complete(_ token: LeaseToken, result: JSONValue?) throws(JobStoreError) -> CompletedLease {
        let now = clock()
        let job: Job
        do throws(JobStoreError) {
            job = try updateLeased(token, now: now, set: """
                state = 'succeeded', finished_at = ?3, updated_at = ?3, lease_expires_at = NULL, result = ?4
                """) { statement throws(SQLiteError) in
                try statement.bind(4, result.flatMap { $0 == .null ? nil : $0.compactJSON })
            }
        } catch .leaseLost(let lost, let reason) {
            // Completing twice with one token answers as the first did.
            if let done = try self.job(token.job), done.state == .succeeded, done.runs == token.run {
                return CompletedLease(finished: FinishedJob(job: done, unblocked: [], failedDependents: []), repeated: true)
            }
            throw .leaseLost(lost, reason)
        }
        let settled = try settleDependents(of: job.id, finishedAs: .succeeded, now: now)
        return CompletedLease(finished: FinishedJob(job: job, unblocked: settled.unblocked, failedDependents: []), repeated: false)
    }

    /// Completes each lease on its own: a stale token's refusal does not hold back the others;
    /// a storage error fails them all (the transaction with them).
    func complete(_ items: [(token: LeaseToken, result: JSONValue?)]) throws(JobStoreError) -> [Result<CompletedLease, JobStoreError>] {
        var outcomes: [Result<CompletedLease, JobStoreError>] = []
        outcomes.reserveCapacity(items.count)
        for (token, result) in items {
            do throws(JobStoreError) {
                outcomes.append(.success(try complete(token, result: result)))
            } catch .storage(let error) {
                throw .storage(error)
            } catch {
                outcomes.append(.failure(error))
            }
        }
        return outcomes
    }

    /// The job of lease `token` when that lease is held now.
    func heldJob(_ token: LeaseToken, now: Timestamp) throws(JobStoreError) -> Job? {
        try jobs("""
            SELECT \(jobColumns) FROM jobs
            WHERE id = ?1 AND runs = ?2 AND state = 'running' AND lease_expires_at > ?3
            """) { statement throws(SQLiteError) in try bindLease(token, now: now, to: statement) }.first
    }

    /// Why lease `token` is not held: no such job (``JobStoreError/notFound(_:)``), or
    /// ``JobStoreError/leaseLost(_:_:)`` saying what became of it.
    func leaseRefusal(_ token: LeaseToken, now: Timestamp) throws(JobStoreError) -> JobStoreError {
        StoreRules.leaseRefusal(token, job: try job(token.job))
    }

    /// Ends the lease `job` is held under as a failed attempt: queued again after its backoff
    /// when it has attempts left, else failed, with the jobs that run after it.
    func endLease(of job: Job, reason: String, now: Timestamp) throws(JobStoreError) -> LeaseEnding {
        if job.hasAttemptsLeft {
            let at = now.advanced(by: job.spec.retry.backoff(afterFailedAttempts: job.attempts))
            let requeued = try updateRunning(job.id, to: .queued, spec: job.spec, set: """
                state = 'queued', run_at = ?2, updated_at = ?3, error = ?4, lease_expires_at = NULL
                """) { statement throws(SQLiteError) in
                try statement.bind(2, at.millisecondsSinceEpoch)
                try statement.bind(3, now.millisecondsSinceEpoch)
                try statement.bind(4, reason)
            }
            return .requeued(requeued)
        }
        let failed = try updateRunning(job.id, to: .failed, spec: job.spec, set: """
            state = 'failed', finished_at = ?2, updated_at = ?2, error = ?3, lease_expires_at = NULL
            """) { statement throws(SQLiteError) in
            try statement.bind(2, now.millisecondsSinceEpoch)
            try statement.bind(3, reason)
        }
        let settled = try settleDependents(of: job.id, finishedAs: .failed, now: now)
        return .failed(FinishedJob(job: failed, unblocked: [], failedDependents: settled.failed))
    }

    /// The earliest `run_at` of the queue's queued jobs, if it has any.
    func earliestRunAt(queue: String) throws(JobStoreError) -> Timestamp? {
        try withStatement("""
            SELECT min(run_at) FROM jobs INDEXED BY jobs_due WHERE state = 'queued' AND queue = ?1
            """) { statement throws(SQLiteError) in
            try statement.bind(1, queue)
            guard try statement.step() else { return nil }
            return statement.optionalInt64(0).map(Timestamp.init(millisecondsSinceEpoch:))
        }
    }

    /// When the earliest lease held now ends.
    func nextLeaseExpiry() throws(JobStoreError) -> Timestamp? {
        try withStatement("""
            SELECT min(lease_expires_at) FROM jobs INDEXED BY jobs_leases
            WHERE lease_expires_at IS NOT NULL AND state = 'running'
            """) { statement throws(SQLiteError) in
            guard try statement.step() else { return nil }
            return statement.optionalInt64(0).map(Timestamp.init(millisecondsSinceEpoch:))
        }
    }
}
