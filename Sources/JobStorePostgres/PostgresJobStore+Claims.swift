import JobModel
import JobStoring
import PostgresNIO

extension PostgresJobStore {
    /// Claims up to `limit` of the queue's ready jobs for this node, as `policy` orders them,
    /// in one statement (`jobq_claim`, in migrations/postgresql/0002_store_functions.sql): each
    /// becomes `running` on this node with one more attempt and its output paths set. Rows
    /// another node is claiming at the same moment are skipped (`FOR UPDATE SKIP LOCKED`), never
    /// waited for or taken twice. A per-submitter cap counts running jobs on every node: the cap
    /// is cluster-wide. A paused queue gives nothing, so that a pause through any node holds
    /// every node from its commit on (the notice that tells the others only saves them the claim).
    public func claim(queue: String, limit: Int = 1, policy: ClaimPolicy = .fifo) async throws(JobStoreError) -> ClaimedJobs {
        guard limit > 0 else { return ClaimedJobs(jobs: [], more: true) }
        let now = clock()
        let incarnation = self.incarnation
        let fair = policy != .fifo
        let cap = policy.maxRunningPerUser.map { Int32(clamping: $0) }
        let (jobs, left) = try await autocommit { transaction in
            var jobs: [Job] = []
            var left = false
            for row in try await transaction.connection.rows("""
                SELECT \(unescaped: Self.claimedColumns), c.claim_left
                FROM jobq_claim(\(queue), \(Int32(clamping: limit)), \(now.millisecondsSinceEpoch), \(self.node), \(incarnation),
                                \(self.logDirectory), \(fair), \(policy.fairness == .roundRobin), \(cap)) c
                ORDER BY c.claim_order
                """, logger: self.logger) {
                left = try row.makeRandomAccess()[jobColumnCount].decode(Bool.self)
                if try row.makeRandomAccess()[0].decode(Int64?.self) != nil { jobs.append(try PostgresJobRows.job(from: row)) }
            }
            return (jobs, left)
        }
        // The node lost its jobs while the claim ran: these belong to the past incarnation,
        // which nobody will run; they go back to the queue.
        if self.incarnation != incarnation, !jobs.isEmpty {
            _ = try await requeuePastIncarnations()
            return ClaimedJobs(jobs: [], more: true)
        }
        if !fair { return ClaimedJobs(jobs: jobs, more: left) }
        let capped = cap != nil
        return ClaimedJobs(
            jobs: jobs, more: jobs.count == limit && left, passedOverAt: capped && jobs.count < limit && left ? now : nil)
    }

    /// ``jobColumns`` of `jobq_claim`'s `claimed_job`.
    static let claimedColumns = jobColumns.split(separator: ",")
        .map { "(c.claimed_job).\(String($0.filter { !$0.isWhitespace }))" }.joined(separator: ", ")

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
