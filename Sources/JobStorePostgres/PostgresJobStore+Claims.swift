import JobModel
import JobStoring
import PostgresNIO

extension PostgresJobStore {
    /// Claims up to `limit` of the queue's ready jobs for this node, as `policy` orders them,
    /// in one short transaction: each becomes `running` on this node with one more attempt and
    /// its output paths set. Rows another node is claiming at the same moment are skipped
    /// (`FOR UPDATE SKIP LOCKED`), never waited for or taken twice. A per-submitter cap counts
    /// running jobs on every node: the cap is cluster-wide. A paused queue gives nothing, so that
    /// a pause through any node holds every node from its commit on (the notice that tells the
    /// others only saves them the claim).
    public func claim(queue: String, limit: Int = 1, policy: ClaimPolicy = .fifo) async throws(JobStoreError) -> ClaimedJobs {
        guard limit > 0 else { return ClaimedJobs(jobs: [], more: true) }
        let now = clock()
        let incarnation = self.incarnation
        let claimed = try await write { transaction in
            let picked = policy == .fifo ? nil : try await self.fairPicks(queue: queue, limit: limit, policy: policy, now: now, in: transaction)
            if picked?.isEmpty == true {
                return try await self.claimed([], queue: queue, limit: limit, policy: policy, now: now, in: transaction)
            }
            let time = now.millisecondsSinceEpoch
            let ids = picked?.map(\.id)
            var jobs = try await transaction.jobs("""
                UPDATE jobs SET state = 'running', attempts = attempts + 1, runs = runs + 1, started_at = \(time),
                    updated_at = \(time), finished_at = NULL, exit_code = NULL, signal = NULL, error = NULL, node = \(self.node),
                    node_incarnation = \(incarnation),
                    stdout_path = \(self.logDirectory) || '/' || id || CASE WHEN runs = 0 THEN '' ELSE '.' || (runs + 1) END || '.out',
                    stderr_path = \(self.logDirectory) || '/' || id || CASE WHEN runs = 0 THEN '' ELSE '.' || (runs + 1) END || '.err'
                WHERE id IN (
                    SELECT id FROM jobs
                    WHERE state = 'queued' AND queue = \(queue) AND run_at <= \(time)
                      AND (\(ids)::bigint[] IS NULL OR id = ANY(\(ids)::bigint[]))
                      AND NOT EXISTS (SELECT 1 FROM queue_kinds WHERE queue = \(queue) AND kind = 'payload')
                      AND NOT EXISTS (SELECT 1 FROM paused_queues WHERE queue = \(queue))
                    ORDER BY priority DESC, run_at, id
                    LIMIT \(Int64(limit))
                    FOR UPDATE SKIP LOCKED)
                RETURNING \(unescaped: jobColumns)
                """)
            if let picked {
                let order = Dictionary(uniqueKeysWithValues: picked.enumerated().map { ($1.id, $0) })
                jobs.sort { order[$0.id.rawValue, default: 0] < order[$1.id.rawValue, default: 0] }
                if policy.fairness == .roundRobin {
                    // Each submitter's turn follows its last job in the claim's order.
                    var served: [Int64] = []
                    for job in jobs.reversed() {
                        let submitter = job.spec.submitterUID.map(Int64.init) ?? -1
                        if !served.contains(submitter) { served.insert(submitter, at: 0) }
                    }
                    try await self.takeTurns(served, queue: queue, in: transaction)
                }
            } else {
                jobs.sort { a, b in
                    if a.spec.priority != b.spec.priority { return a.spec.priority > b.spec.priority }
                    return a.runAt != b.runAt ? a.runAt < b.runAt : a.id < b.id
                }
            }
            return try await self.claimed(jobs, queue: queue, limit: limit, policy: policy, now: now, in: transaction)
        }
        // The node lost its jobs while the claim ran: these belong to the past incarnation,
        // which nobody will run; they go back to the queue.
        if self.incarnation != incarnation, !claimed.jobs.isEmpty {
            _ = try await requeuePastIncarnations()
            return ClaimedJobs(jobs: [], more: true)
        }
        return claimed
    }

    /// The claim's answer: whether a ready job was left, and whether some were passed over for
    /// the per-submitter cap.
    private func claimed(
        _ jobs: [Job], queue: String, limit: Int, policy: ClaimPolicy, now: Timestamp, in transaction: PostgresTransaction
    ) async throws -> ClaimedJobs {
        let capped = policy.maxRunningPerUser != nil
        let readyLeft = jobs.count < limit && !capped ? false : try await hasReadyJob(queue: queue, now: now, in: transaction)
        return ClaimedJobs(
            jobs: jobs, more: jobs.count == limit && readyLeft,
            passedOverAt: capped && jobs.count < limit && readyLeft ? now : nil)
    }

    /// The ready jobs a fair claim takes, in the order they start, as the SQLite store picks
    /// them: each submitter's head jobs (one index seek per submitter, found by a loose index
    /// scan of `jobs_fair`), those over the cap left out, then by priority, rank within the
    /// submitter and, for round-robin, the submitter's last turn.
    private func fairPicks(
        queue: String, limit: Int, policy: ClaimPolicy, now: Timestamp, in transaction: PostgresTransaction
    ) async throws -> [(id: Int64, submitter: Int64)] {
        let roundRobin = policy.fairness == .roundRobin
        let cap = Int64(policy.maxRunningPerUser ?? Int(Int32.max))
        var picks: [(id: Int64, submitter: Int64)] = []
        for (id, submitter) in try await transaction.connection.rows("""
            WITH RECURSIVE submitters(uid) AS (
                SELECT (SELECT submitter_uid FROM jobs
                        WHERE state = 'queued' AND queue = \(queue) AND submitter_uid IS NOT NULL ORDER BY submitter_uid LIMIT 1)
                UNION ALL
                SELECT (SELECT submitter_uid FROM jobs
                        WHERE state = 'queued' AND queue = \(queue) AND submitter_uid > submitters.uid ORDER BY submitter_uid LIMIT 1)
                FROM submitters WHERE uid IS NOT NULL
            ),
            running(uid, n) AS (
                SELECT submitter_uid, count(*) FROM jobs
                WHERE state = 'running' AND queue = \(queue) AND \(policy.maxRunningPerUser != nil) GROUP BY submitter_uid
            ),
            candidates AS (
                SELECT j.id, j.priority, j.run_at, j.submitter_uid AS uid,
                       row_number() OVER (PARTITION BY j.submitter_uid ORDER BY j.priority DESC, j.run_at, j.id) AS rank
                FROM submitters s CROSS JOIN LATERAL (
                    SELECT id, priority, run_at, submitter_uid FROM jobs
                    WHERE state = 'queued' AND queue = \(queue) AND submitter_uid IS NOT DISTINCT FROM s.uid
                      AND run_at <= \(now.millisecondsSinceEpoch)
                    ORDER BY priority DESC, run_at, id LIMIT \(Int64(limit))) j
            )
            SELECT c.id, coalesce(c.uid, -1) FROM candidates c
                LEFT JOIN queue_turns t ON t.queue = \(queue) AND t.submitter = coalesce(c.uid, -1)
                LEFT JOIN running r ON r.uid IS NOT DISTINCT FROM c.uid
            WHERE c.rank <= \(cap) - coalesce(r.n, 0)
              AND NOT EXISTS (SELECT 1 FROM queue_kinds WHERE queue = \(queue) AND kind = 'payload')
            ORDER BY c.priority DESC,
                     CASE WHEN \(roundRobin) THEN c.rank END, CASE WHEN \(roundRobin) THEN coalesce(t.turn, 0) END,
                     c.run_at, c.id
            LIMIT \(Int64(limit))
            """, logger: logger).decoded((Int64, Int64).self) {
            picks.append((id, submitter))
        }
        return picks
    }

    /// Moves the served submitters to the queue's latest turns, so that the others come first
    /// next time. A lone submitter who holds the latest turn already keeps it.
    private func takeTurns(_ served: [Int64], queue: String, in transaction: PostgresTransaction) async throws {
        guard !served.isEmpty else { return }
        try await transaction.run("""
            INSERT INTO queue_turns (queue, submitter, turn)
            SELECT \(queue), submitter, (SELECT coalesce(max(turn), 0) FROM queue_turns WHERE queue = \(queue)) + position
            FROM unnest(\(served)::bigint[]) WITH ORDINALITY AS served (submitter, position)
            WHERE NOT (cardinality(\(served)::bigint[]) = 1 AND EXISTS (
                SELECT 1 FROM queue_turns WHERE queue = \(queue) AND submitter = served.submitter
                  AND turn = (SELECT max(turn) FROM queue_turns WHERE queue = \(queue))))
            ON CONFLICT (queue, submitter) DO UPDATE SET turn = excluded.turn
            """)
    }

    /// Whether `queue` has a job ready to claim at `now`.
    func hasReadyJob(queue: String, now: Timestamp, in transaction: PostgresTransaction) async throws -> Bool {
        try await !transaction.values("""
            SELECT 1 FROM jobs WHERE state = 'queued' AND queue = \(queue) AND run_at <= \(now.millisecondsSinceEpoch) LIMIT 1
            """, as: Int32.self).isEmpty
    }

    /// Whether `queue` has a job ready to claim now.
    public func hasReadyJob(queue: String) async throws(JobStoreError) -> Bool {
        let now = clock()
        return try await write { transaction in try await self.hasReadyJob(queue: queue, now: now, in: transaction) }
    }

    /// The earliest `run_at` after `instant` among the queue's queued jobs: when to claim next.
    public func nextRunAt(queue: String, after instant: Timestamp) async throws(JobStoreError) -> Timestamp? {
        try await rows("""
            SELECT min(run_at) FROM jobs WHERE state = 'queued' AND queue = \(queue) AND run_at > \(instant.millisecondsSinceEpoch)
            """) { try $0.decode(Int64?.self) }.first?.map(Timestamp.init(millisecondsSinceEpoch:))
    }
}
