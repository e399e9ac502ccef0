import JobModel
import JobStoring
import PostgresNIO

/// The statements several lease operations share.
extension PostgresJobStore {
    /// Updates the job of lease `token` with the assignments `set` writes (given now's time)
    /// when that lease is held now; throws why it is not held otherwise.
    func updateLeased(
        _ token: LeaseToken, now: Timestamp, in transaction: PostgresTransaction,
        set assignments: (Int64) -> PostgresQuery
    ) async throws -> Job {
        let time = now.millisecondsSinceEpoch
        var query = assignments(time)
        let set = query.sql
        // The assignments' parameters come first ($1…); the condition's follow them.
        let first = query.binds.count
        query = PostgresQuery(unsafeSQL: """
            UPDATE jobs SET \(set)
            WHERE id = $\(first + 1) AND runs = $\(first + 2) AND state = 'running' AND lease_expires_at > $\(first + 3)
            RETURNING \(jobColumns)
            """, binds: {
            var binds = query.binds
            binds.append(token.job.rawValue, context: .default)
            binds.append(Int32(clamping: token.run), context: .default)
            binds.append(time, context: .default)
            return binds
        }())
        guard let job = try await transaction.jobs(query).first else {
            throw try await leaseRefusal(token, now: now, in: transaction)
        }
        return job
    }

    /// Completes one lease (see ``complete(_:result:)``) in `transaction`.
    func complete(_ item: LeaseCompletion, now: Timestamp, in transaction: PostgresTransaction) async throws -> CompletedLease {
        let result = item.result.flatMap { $0 == .null ? nil : $0.compactJSON }
        let job: Job
        do {
            job = try await updateLeased(item.token, now: now, in: transaction) { time in
                "state = 'succeeded', finished_at = \(time), updated_at = \(time), lease_expires_at = NULL, result = \(result)"
            }
        } catch JobStoreError.leaseLost(let lost, let reason) {
            if let done = try await transaction.jobs("SELECT \(unescaped: jobColumns) FROM jobs WHERE id = \(item.token.job.rawValue)").first,
               done.state == .succeeded, done.runs == item.token.run {
                return CompletedLease(finished: FinishedJob(job: done, unblocked: [], failedDependents: []), repeated: true)
            }
            throw JobStoreError.leaseLost(lost, reason)
        }
        let settled = try await transaction.settleDependents(of: job.id, finishedAs: .succeeded, now: now)
        return CompletedLease(finished: FinishedJob(job: job, unblocked: settled.unblocked, failedDependents: []), repeated: false)
    }

    /// Completes each lease on its own: a stale token's refusal does not hold back the others.
    /// The leases held now are completed by one statement and their dependents settled by one
    /// more (a statement a lease made a batch of 100 cost 300 round trips); a token that is not
    /// held (a repeat, a lost lease) is answered as a single completion answers it. The jobs the
    /// batch unblocked are given with its first completion.
    func complete(
        _ items: [LeaseCompletion], now: Timestamp, in transaction: PostgresTransaction
    ) async throws -> [Result<CompletedLease, JobStoreError>] {
        let time = now.millisecondsSinceEpoch
        // No result is "" (never JSON): an array of optional texts does not bind.
        let results = items.map { $0.result.flatMap { $0 == .null ? nil : $0.compactJSON } ?? "" }
        let completed = try await transaction.jobs("""
            UPDATE jobs SET state = 'succeeded', finished_at = \(time), updated_at = \(time), lease_expires_at = NULL,
                result = NULLIF(c.cresult, '')
            FROM (SELECT DISTINCT ON (cid) cid, crun, cresult
                  FROM unnest(\(items.map(\.token.job.rawValue))::bigint[], \(items.map { Int32(clamping: $0.token.run) })::integer[],
                              \(results)::text[]) AS u (cid, crun, cresult)) c
            WHERE jobs.id = c.cid AND jobs.runs = c.crun AND jobs.state = 'running' AND jobs.lease_expires_at > \(time)
            RETURNING \(unescaped: jobColumns)
            """)
        var byID = Dictionary(uniqueKeysWithValues: completed.map { ($0.id, $0) })
        var unblocked = completed.isEmpty ? [] : try await transaction.unblockDependents(of: completed.map(\.id), now: now)
        var outcomes: [Result<CompletedLease, JobStoreError>] = []
        outcomes.reserveCapacity(items.count)
        for item in items {
            if let job = byID.removeValue(forKey: item.token.job), job.runs == item.token.run {
                outcomes.append(.success(CompletedLease(
                    finished: FinishedJob(job: job, unblocked: unblocked, failedDependents: []), repeated: false)))
                unblocked = []
                continue
            }
            do {
                outcomes.append(.success(try await complete(item, now: now, in: transaction)))
            } catch let refusal as JobStoreError {
                if case .storage = refusal { throw refusal }
                outcomes.append(.failure(refusal))
            }
        }
        return outcomes
    }

    /// The job of lease `token` when that lease is held now.
    func heldJob(_ token: LeaseToken, now: Timestamp, in transaction: PostgresTransaction) async throws -> Job? {
        try await transaction.jobs("""
            SELECT \(unescaped: jobColumns) FROM jobs
            WHERE id = \(token.job.rawValue) AND runs = \(Int32(clamping: token.run)) AND state = 'running'
              AND lease_expires_at > \(now.millisecondsSinceEpoch)
            FOR UPDATE
            """).first
    }

    /// Why lease `token` is not held (``StoreRules/leaseRefusal(_:job:)``).
    func leaseRefusal(_ token: LeaseToken, now: Timestamp, in transaction: PostgresTransaction) async throws -> JobStoreError {
        StoreRules.leaseRefusal(
            token, job: try await transaction.jobs("SELECT \(unescaped: jobColumns) FROM jobs WHERE id = \(token.job.rawValue)").first)
    }

    /// Ends the lease `job` is held under as a failed attempt: queued again after its backoff
    /// when it has attempts left, else failed with the jobs that run after it.
    func endLease(of job: Job, reason: String, now: Timestamp, in transaction: PostgresTransaction) async throws -> LeaseEnding {
        let time = now.millisecondsSinceEpoch
        if job.hasAttemptsLeft {
            let at = now.advanced(by: job.spec.retry.backoff(afterFailedAttempts: job.attempts)).millisecondsSinceEpoch
            return .requeued(try await transaction.updated(job.id, to: .queued, """
                UPDATE jobs SET state = 'queued', run_at = \(at), updated_at = \(time), error = \(reason), lease_expires_at = NULL
                WHERE id = \(job.id.rawValue) AND state = 'running'
                RETURNING \(unescaped: jobColumns)
                """))
        }
        let failed = try await transaction.updated(job.id, to: .failed, """
            UPDATE jobs SET state = 'failed', finished_at = \(time), updated_at = \(time), error = \(reason), lease_expires_at = NULL
            WHERE id = \(job.id.rawValue) AND state = 'running'
            RETURNING \(unescaped: jobColumns)
            """)
        let settled = try await transaction.settleDependents(of: job.id, finishedAs: .failed, now: now)
        return .failed(FinishedJob(job: failed, unblocked: [], failedDependents: settled.failed))
    }
}
