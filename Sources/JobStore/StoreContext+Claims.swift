import JobModel
import JobStoring

/// What a claim sets on each job it takes: `running`, one more attempt, fresh output paths
/// (`?1` is the time, `?3` the log directory).
private let claimAssignments = """
    state = 'running', attempts = attempts + 1, runs = runs + 1, started_at = ?1,
        updated_at = ?1, finished_at = NULL, exit_code = NULL, signal = NULL, error = NULL,
        stdout_path = ?3 || '/' || id || iif(runs = 0, '', '.' || (runs + 1)) || '.out',
        stderr_path = ?3 || '/' || id || iif(runs = 0, '', '.' || (runs + 1)) || '.err'
    """

/// A payload queue's jobs are for consumers, whatever the caller believes (`?2` is the queue).
private let commandQueueOnly = "NOT EXISTS (SELECT 1 FROM queue_kinds WHERE queue = ?2 AND kind = 'payload')"

/// The ready jobs a fair claim takes, in the order they start: each submitter's head jobs (one
/// seek of `jobs_fair` per submitter with queued jobs, found by a loose index scan, so that the
/// cost follows the number of submitters, not the backlog), those over the submitter's cap left
/// out, then ordered by priority, by each job's rank among its submitter's, and, for round-robin,
/// by the turn its submitter was last served at. `?1` now, `?2` queue, `?3` limit, `?4` cap
/// (the running jobs are counted only when `capped`).
private func fairSelection(orderedBy order: String, capped: Bool) -> String {
    let running = """
        running(uid, n) AS (
            SELECT submitter_uid, count(*) FROM jobs INDEXED BY jobs_state
            WHERE state = 'running' AND queue = ?2 GROUP BY submitter_uid
        ),
        """
    return """
    WITH RECURSIVE submitters(uid) AS (
        SELECT (SELECT submitter_uid FROM jobs INDEXED BY jobs_fair
                WHERE state = 'queued' AND queue = ?2 AND submitter_uid IS NOT NULL ORDER BY submitter_uid LIMIT 1)
        UNION ALL
        -- The row after the last submitter is NULL: it stands for the jobs without one.
        SELECT (SELECT submitter_uid FROM jobs INDEXED BY jobs_fair
                WHERE state = 'queued' AND queue = ?2 AND submitter_uid > submitters.uid ORDER BY submitter_uid LIMIT 1)
        FROM submitters WHERE uid IS NOT NULL
    ),
    \(capped ? running : "")
    candidates AS (
        SELECT j.id, j.priority, j.run_at, j.submitter_uid AS uid,
               row_number() OVER (PARTITION BY j.submitter_uid ORDER BY j.priority DESC, j.run_at, j.id) AS rank
        FROM submitters s JOIN jobs j ON j.id IN (
            SELECT id FROM jobs INDEXED BY jobs_fair
            WHERE state = 'queued' AND queue = ?2 AND submitter_uid IS s.uid AND run_at <= ?1
            ORDER BY priority DESC, run_at, id LIMIT ?3)
    )
    SELECT c.id, c.uid, t.turn, (SELECT max(turn) FROM queue_turns WHERE queue = ?2) FROM candidates c
        LEFT JOIN queue_turns t ON t.queue = ?2 AND t.submitter = coalesce(c.uid, -1)
        \(capped ? "LEFT JOIN running r ON r.uid IS c.uid" : "")
    WHERE \(capped ? "c.rank <= ?4 - coalesce(r.n, 0)" : "?4 > 0") AND \(commandQueueOnly)
    ORDER BY \(order)
    LIMIT ?3
    """
}

private let roundRobinOrder = "c.priority DESC, c.rank, coalesce(t.turn, 0), c.run_at, c.id"
private let roundRobinSelection = fairSelection(orderedBy: roundRobinOrder, capped: false)
private let cappedRoundRobinSelection = fairSelection(orderedBy: roundRobinOrder, capped: true)
private let cappedFIFOSelection = fairSelection(orderedBy: "c.priority DESC, c.run_at, c.id", capped: true)

extension StoreContext {
    /// Claims up to `limit` of `queue`'s ready jobs at `now` as `policy` orders them, and says
    /// whether a ready job was left and whether ready jobs were passed over because their
    /// submitters were at the cap.
    func claimReady(queue: String, limit: Int, policy: ClaimPolicy, now: Timestamp) throws(JobStoreError) -> ClaimedJobs {
        var claimed: [Job]
        if policy == .fifo {
            claimed = try claimInOrder(queue: queue, limit: limit, now: now)
        } else {
            claimed = try claimFairly(queue: queue, limit: limit, policy: policy, now: now)
        }
        let capped = policy.maxRunningPerUser != nil
        let readyLeft = claimed.count < limit && !capped ? false : try hasReadyJob(queue: queue, now: now)
        return ClaimedJobs(
            jobs: claimed, more: claimed.count == limit && readyLeft,
            passedOverAt: capped && claimed.count < limit && readyLeft ? now : nil)
    }

    /// Strict FIFO without a cap: one statement down `jobs_ready`.
    private func claimInOrder(queue: String, limit: Int, now: Timestamp) throws(JobStoreError) -> [Job] {
        // INDEXED BY: the walk down jobs_ready is what keeps a claim O(log n) in the backlog;
        // if the planner ever preferred another index, the statement fails instead of sorting.
        var claimed = try jobs("""
            UPDATE jobs SET \(claimAssignments)
            WHERE id IN (
                SELECT id FROM jobs INDEXED BY jobs_ready
                WHERE state = 'queued' AND queue = ?2 AND run_at <= ?1 AND \(commandQueueOnly)
                ORDER BY priority DESC, run_at, id
                LIMIT ?4)
            RETURNING \(jobColumns)
            """) { statement throws(SQLiteError) in
            try statement.bind(1, now.millisecondsSinceEpoch)
            try statement.bind(2, queue)
            try statement.bind(3, logDirectory)
            try statement.bind(4, limit)
        }
        if claimed.count > 1 {
            // RETURNING gives rows in no promised order.
            claimed.sort { a, b in
                if a.spec.priority != b.spec.priority { return a.spec.priority > b.spec.priority }
                return a.runAt != b.runAt ? a.runAt < b.runAt : a.id < b.id
            }
        }
        return claimed
    }

    /// Round-robin across submitters, or FIFO under a per-submitter cap: the selection picks the
    /// ids in order, one update claims them, and each submitter served takes the next turn.
    private func claimFairly(queue: String, limit: Int, policy: ClaimPolicy, now: Timestamp) throws(JobStoreError) -> [Job] {
        let selection = switch (policy.fairness, policy.maxRunningPerUser) {
        case (.roundRobin, nil): roundRobinSelection
        case (.roundRobin, _): cappedRoundRobinSelection
        case (.fifo, _): cappedFIFOSelection
        }
        var lastServed = false
        let picked: [(id: Int64, submitter: Int64)] = try withStatement(selection) { statement throws(SQLiteError) in
            try statement.bind(1, now.millisecondsSinceEpoch)
            try statement.bind(2, queue)
            try statement.bind(3, limit)
            try statement.bind(4, Int64(policy.maxRunningPerUser ?? Int(Int32.max)))
            var rows: [(id: Int64, submitter: Int64)] = []
            var submitters: Set<Int64> = []
            while try statement.step() {
                rows.append((statement.int64(0), statement.optionalInt64(1) ?? -1))
                submitters.insert(rows[rows.count - 1].submitter)
                lastServed = statement.optionalInt64(2).map { $0 == statement.optionalInt64(3) } ?? false
            }
            lastServed = lastServed && submitters.count == 1
            return rows
        }
        guard !picked.isEmpty else { return [] }
        // One job (a slot freed by a run's end) is the usual claim: a statement without a list.
        let updated = try jobs(picked.count == 1 ? """
            UPDATE jobs SET \(claimAssignments) WHERE id = ?2 RETURNING \(jobColumns)
            """ : """
            UPDATE jobs SET \(claimAssignments)
            WHERE id IN (SELECT value FROM json_each(?2))
            RETURNING \(jobColumns)
            """) { statement throws(SQLiteError) in
            try statement.bind(1, now.millisecondsSinceEpoch)
            if picked.count == 1 {
                try statement.bind(2, picked[0].id)
            } else {
                try statement.bind(2, "[" + picked.map { String($0.id) }.joined(separator: ",") + "]")
            }
            try statement.bind(3, logDirectory)
        }
        let byID = Dictionary(uniqueKeysWithValues: updated.map { ($0.id.rawValue, $0) })
        // A lone submitter who holds the queue's latest turn keeps it: moving it on changes no order.
        if policy.fairness == .roundRobin, !lastServed {
            for row in picked {
                try withStatement("""
                    INSERT INTO queue_turns (queue, submitter, turn)
                    VALUES (?1, ?2, (SELECT coalesce(max(turn), 0) + 1 FROM queue_turns WHERE queue = ?1))
                    ON CONFLICT (queue, submitter) DO UPDATE SET turn = excluded.turn
                    """) { statement throws(SQLiteError) in
                    try statement.bind(1, queue)
                    try statement.bind(2, row.submitter)
                    try statement.run()
                }
            }
        }
        return picked.compactMap { byID[$0.id] }
    }
}
