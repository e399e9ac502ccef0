import JobModel
import JobStoring
import PostgresNIO

/// How runs end on PostgreSQL. A node records the end of a run only of a job that is running
/// on that node in its present incarnation: a node that lost the job (its heartbeat lapsed and
/// another node requeued it, or it restarted) finds it refused, and can never record over a
/// newer attempt.
extension PostgresJobStore {
    /// Records how a running job ended, for good (see the SQLite store's `finish`): success
    /// unblocks the jobs waiting on it, failure fails them.
    public func finish(
        _ id: JobID, _ completion: JobCompletion, startedAt: Timestamp? = nil, usage: RunUsage? = nil, spec: JobSpec? = nil,
        run: Int? = nil
    ) async throws(JobStoreError) -> FinishedJob {
        let now = clock()
        let target: JobState
        let exitCode: Int32?, signal: Int32?, reason: String?
        switch completion {
        case .succeeded: (target, exitCode, signal, reason) = (.succeeded, 0, nil, nil)
        case let .failed(code, sig, why): (target, exitCode, signal, reason) = (.failed, code, sig, why)
        }
        let time = now.millisecondsSinceEpoch
        let incarnation = self.incarnation
        // One statement that commits alone: the record, the run's history and the dependents.
        let finished = try await autocommit { transaction in
            let query: PostgresQuery = """
                WITH done AS (
                    UPDATE jobs SET state = \(target.rawValue), finished_at = \(time), updated_at = \(time), exit_code = \(exitCode),
                        signal = \(signal), error = \(reason), started_at = coalesce(\(startedAt?.millisecondsSinceEpoch), started_at),
                        cpu_user_us = \(usage?.userCPU.wholeMicroseconds), cpu_system_us = \(usage?.systemCPU.wholeMicroseconds),
                        max_rss_kib = \(usage.map { $0.maxResidentBytes / 1024 })
                    WHERE id = \(id.rawValue) AND state = 'running' AND node = \(self.node) AND node_incarnation = \(incarnation)
                      AND (\(run.map { Int32(clamping: $0) })::integer IS NULL OR runs = \(run.map { Int32(clamping: $0) }))
                    RETURNING \(unescaped: jobColumns)
                ), \(unescaped: PostgresTransaction.historyOfDone)
                SELECT done.*, settled.unblocked, settled.failed
                FROM done CROSS JOIN LATERAL jobq_settle_dependents(
                    done.id, \(target == .succeeded), \(PostgresTransaction.how(target)), \(time)) settled
                """
            var finished: FinishedJob?
            for row in try await transaction.connection.rows(query, logger: self.logger) {
                let columns = row.makeRandomAccess()
                finished = FinishedJob(
                    job: try PostgresJobRows.job(from: row),
                    unblocked: try columns[jobColumnCount].decode([Int64].self).map { JobID($0) },
                    failedDependents: try columns[jobColumnCount + 1].decode([Int64].self).map { JobID($0) })
            }
            guard let finished else { throw try await transaction.refusalOfRecord(id, to: target) }
            return finished
        }
        notifyFinished(finished)
        return finished
    }

    /// Puts a running job whose attempt failed back to `queued`, to run again at `runAt`.
    public func scheduleRetry(
        _ id: JobID, at runAt: Timestamp, exitCode: Int32? = nil, signal: Int32? = nil, reason: String,
        startedAt: Timestamp? = nil, usage: RunUsage? = nil, spec: JobSpec? = nil, run: Int? = nil
    ) async throws(JobStoreError) -> Job {
        let now = clock()
        let time = now.millisecondsSinceEpoch
        let incarnation = self.incarnation
        let job = try await autocommit { transaction in
            try await transaction.recorded(id, to: .queued, """
                WITH done AS (
                    UPDATE jobs SET state = 'queued', run_at = \(runAt.millisecondsSinceEpoch), updated_at = \(time),
                        exit_code = \(exitCode), signal = \(signal), error = \(reason),
                        started_at = coalesce(\(startedAt?.millisecondsSinceEpoch), started_at),
                        cpu_user_us = \(usage?.userCPU.wholeMicroseconds), cpu_system_us = \(usage?.systemCPU.wholeMicroseconds),
                        max_rss_kib = \(usage.map { $0.maxResidentBytes / 1024 }), node = NULL, node_incarnation = NULL
                    WHERE id = \(id.rawValue) AND state = 'running' AND node = \(self.node) AND node_incarnation = \(incarnation)
                      AND (\(run.map { Int32(clamping: $0) })::integer IS NULL OR runs = \(run.map { Int32(clamping: $0) }))
                    RETURNING \(unescaped: jobColumns)
                ), \(unescaped: PostgresTransaction.historyOfDone)
                SELECT * FROM done
                """)
        }
        notifyReady(job)
        return job
    }

    /// Gives back a claimed job that never started (the node is draining): `queued` again in
    /// its old place, the claim not counted as an attempt.
    public func release(_ id: JobID, spec: JobSpec? = nil, run: Int? = nil) async throws(JobStoreError) -> Job {
        let time = clock().millisecondsSinceEpoch
        let incarnation = self.incarnation
        let job = try await autocommit { transaction in
            try await transaction.recorded(id, to: .queued, """
                UPDATE jobs SET state = 'queued', attempts = greatest(0, attempts - 1), updated_at = \(time),
                    started_at = NULL, stdout_path = NULL, stderr_path = NULL, node = NULL, node_incarnation = NULL
                WHERE id = \(id.rawValue) AND state = 'running' AND node = \(self.node) AND node_incarnation = \(incarnation)
                  AND (\(run.map { Int32(clamping: $0) })::integer IS NULL OR runs = \(run.map { Int32(clamping: $0) }))
                RETURNING \(unescaped: jobColumns)
                """)
        }
        notifyReady(job)
        return job
    }

    /// Keeps the end of a run that was stopped (cancelled, or drained and requeued) in the
    /// job's history, with what it used; the job's state is not touched. Nothing is written for
    /// a job pruned meanwhile.
    public func keepStoppedRun(of job: Job, _ end: JobCompletion, usage: RunUsage?) async throws(JobStoreError) {
        let (exitCode, signal, reason): (Int32?, Int32?, String?) =
            if case .failed(let code, let sig, let why) = end { (code, sig, why) } else { (nil, nil, nil) }
        let time = clock().millisecondsSinceEpoch
        let user = usage?.userCPU.wholeMicroseconds, system = usage?.systemCPU.wholeMicroseconds
        let resident = usage.map { $0.maxResidentBytes / 1024 }
        try await write { transaction in
            try await transaction.run("""
                INSERT INTO job_run_history
                    (job_id, run, started_at, finished_at, exit_code, signal, error, cpu_user_us, cpu_system_us, max_rss_kib, node)
                SELECT \(job.id.rawValue), \(Int32(clamping: job.runs)), \(job.startedAt?.millisecondsSinceEpoch), \(time),
                       \(exitCode), \(signal), \(reason), \(user), \(system), \(resident), \(self.node)
                WHERE EXISTS (SELECT 1 FROM jobs WHERE id = \(job.id.rawValue))
                ON CONFLICT (job_id, run) DO UPDATE SET finished_at = excluded.finished_at, exit_code = excluded.exit_code,
                    signal = excluded.signal, error = excluded.error, cpu_user_us = excluded.cpu_user_us,
                    cpu_system_us = excluded.cpu_system_us, max_rss_kib = excluded.max_rss_kib
                """)
            if usage != nil {
                try await transaction.run("""
                    UPDATE jobs SET cpu_user_us = \(user), cpu_system_us = \(system), max_rss_kib = \(resident)
                    WHERE id = \(job.id.rawValue)
                    """)
            }
        }
    }

    /// At this node's start: its jobs left `running` by its previous life go back to `queued`
    /// (they run again), the interrupted attempt moved from `attempts` to `interrupted`;
    /// payload jobs under lease keep their lease. Other nodes' jobs are theirs.
    public func recoverInterruptedJobs() async throws(JobStoreError) -> [JobID] {
        try await requeueRunning(ofPastIncarnationsOnly: false)
    }

    /// After this node learned it lapsed: the jobs its past incarnations still hold (claimed
    /// after the others' rescue) go back to the queue; the present incarnation's stay.
    func requeuePastIncarnations() async throws(JobStoreError) -> [JobID] {
        try await requeueRunning(ofPastIncarnationsOnly: true)
    }

    private func requeueRunning(ofPastIncarnationsOnly pastOnly: Bool) async throws(JobStoreError) -> [JobID] {
        let time = clock().millisecondsSinceEpoch
        let present: Int64? = pastOnly ? self.incarnation : nil
        return try await write { transaction in
            try await transaction.values("""
                UPDATE jobs SET state = 'queued', updated_at = \(time), node = NULL, node_incarnation = NULL,
                    attempts = greatest(attempts - 1, 0), interrupted = interrupted + 1,
                    error = 'attempt ' || attempts || ' was interrupted: jobqd stopped or crashed while it ran'
                WHERE state = 'running' AND lease_expires_at IS NULL AND node = \(self.node)
                  AND (\(present)::bigint IS NULL OR node_incarnation IS DISTINCT FROM \(present))
                RETURNING id
                """, as: Int64.self).map { JobID($0) }.sorted()
        }
    }

    /// Every run of a job, oldest first (`nil`: no such job).
    public func runHistory(of id: JobID) async throws(JobStoreError) -> [RunRecord]? {
        guard try await job(id) != nil else { return nil }
        return try await rows("""
            SELECT run, started_at, finished_at, exit_code, signal, error, cpu_user_us, cpu_system_us, max_rss_kib, node
            FROM job_run_history WHERE job_id = \(id.rawValue) ORDER BY run
            """) { row in
            let (run, started, finished, exitCode, signal, error, user, system, resident, node) =
                try row.decode((Int32, Int64?, Int64, Int32?, Int32?, String?, Int64?, Int64?, Int64?, String?).self)
            var usage: RunUsage?
            if let user, let system, let resident {
                usage = RunUsage(userCPU: .microseconds(user), systemCPU: .microseconds(system), maxResidentBytes: resident * 1024)
            }
            return RunRecord(
                run: Int(run), startedAt: started.map(Timestamp.init(millisecondsSinceEpoch:)),
                finishedAt: Timestamp(millisecondsSinceEpoch: finished), exitCode: exitCode, signal: signal, error: error,
                usage: usage, node: node)
        }
    }
}
