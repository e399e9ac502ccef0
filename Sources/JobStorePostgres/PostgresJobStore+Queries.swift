import JobModel
import JobStoring
import PostgresNIO

extension PostgresJobStore {
    /// One job, or `nil` when there is none with this id.
    public func job(_ id: JobID) async throws(JobStoreError) -> Job? {
        try await rows("SELECT \(unescaped: jobColumns) FROM jobs WHERE id = \(id.rawValue)", PostgresJobRows.job).first
    }

    /// Those of `ids` whose jobs are in a terminal state, in one statement.
    public func terminal(among ids: [JobID]) async throws(JobStoreError) -> [JobID] {
        guard !ids.isEmpty else { return [] }
        return try await rows("""
            SELECT id FROM jobs WHERE id = ANY(\(ids.map(\.rawValue))::bigint[])
              AND state IN ('succeeded', 'failed', 'cancelled') ORDER BY id
            """) { try JobID($0.decode(Int64.self)) }
    }

    /// A page of the jobs `filter` selects, by id in `order`, after `cursor`; `nextCursor` is
    /// set when more follow.
    public func jobs(
        matching filter: JobFilter = JobFilter(), after cursor: JobID? = nil, limit: Int = 100, order: ListOrder = .ascending
    ) async throws(JobStoreError) -> JobPage {
        let limit = max(1, limit)
        let states = filter.states.map { $0.map(\.rawValue).sorted() }
        if states?.isEmpty == true { return JobPage(jobs: [], nextCursor: nil) }
        let ascending = order == .ascending
        let page = try await rows("""
            SELECT \(unescaped: jobColumns) FROM jobs
            WHERE (\(states)::text[] IS NULL OR state = ANY(\(states)::text[]))
              AND (\(filter.queue)::text IS NULL OR queue = \(filter.queue))
              AND (\(filter.label)::text IS NULL OR label = \(filter.label))
              AND (\(filter.submitter.map(Int64.init))::bigint IS NULL OR submitter_uid = \(filter.submitter.map(Int64.init)))
              AND (SELECT bool_and(strpos(lower(spec), word) > 0) FROM unnest(\(filter.commandWords)::text[]) AS word) IS NOT FALSE
              AND (\(filter.commandContains)::text IS NULL OR strpos(lower(coalesce(spec::jsonb->>'shell',
                    array_to_string(ARRAY(SELECT jsonb_array_elements_text(spec::jsonb->'argv')), ' '), '')), lower(\(filter.commandContains))) > 0)
              AND (\(filter.runsAfter?.rawValue)::bigint IS NULL
                    OR id IN (SELECT job_id FROM job_dependencies WHERE depends_on = \(filter.runsAfter?.rawValue)))
              AND (\(cursor?.rawValue)::bigint IS NULL OR (CASE WHEN \(ascending) THEN id > \(cursor?.rawValue) ELSE id < \(cursor?.rawValue) END))
            ORDER BY CASE WHEN \(ascending) THEN id END ASC, CASE WHEN NOT \(ascending) THEN id END DESC
            LIMIT \(Int64(limit) + 1)
            """, PostgresJobRows.job)
        if page.count > limit {
            let jobs = Array(page.prefix(limit))
            return JobPage(jobs: jobs, nextCursor: jobs.last?.id)
        }
        return JobPage(jobs: page, nextCursor: nil)
    }

    /// Jobs per queue and state: the sum of every node's counted changes (a few rows per node,
    /// however large the backlog). Queues with no job are left out; sorted by queue name.
    public func counts() async throws(JobStoreError) -> [QueueCounts] {
        let rows = try await rows("""
            SELECT queue, state, sum(n)::bigint FROM job_counts GROUP BY queue, state HAVING sum(n) > 0 ORDER BY queue, state
            """) { row in try row.decode((String, String, Int64).self) }
        var result: [QueueCounts] = []
        for (queue, name, count) in rows {
            guard let state = JobState(rawValue: name) else { continue }
            if result.last?.queue != queue { result.append(QueueCounts(queue: queue, counts: [:])) }
            result[result.count - 1].counts[state] = Int(count)
        }
        return result
    }

    /// The queues paused now, sorted by name.
    public func pausedQueues() async throws(JobStoreError) -> [String] {
        try await rows("SELECT queue FROM paused_queues ORDER BY queue") { try $0.decode(String.self) }
    }

    /// The concurrency stored for each queue.
    public func storedWorkers() async throws(JobStoreError) -> [String: Int] {
        let rows = try await rows("SELECT queue, workers FROM queue_workers") { try $0.decode((String, Int32).self) }
        return Dictionary(uniqueKeysWithValues: rows.map { ($0.0, Int($0.1)) })
    }

    /// The queues whose jobs are payloads for consumers.
    public func payloadQueues() async throws(JobStoreError) -> Set<String> {
        Set(try await rows("SELECT queue FROM queue_kinds WHERE kind = 'payload'") { try $0.decode(String.self) })
    }

    /// Every node registered on the database, by name, with its jobs running now.
    public func nodes() async throws(JobStoreError) -> [NodeInfo]? {
        let node = self.node
        return try await rows("""
            SELECT n.name, n.started_at, n.heartbeat_at, n.lapsed, n.serves,
                   (SELECT count(*) FROM jobs j WHERE j.state = 'running' AND j.node = n.name)
            FROM nodes n ORDER BY n.name
            """) { row in
            let (name, started, beat, lapsed, serves, running) = try row.decode((String, Int64, Int64, Bool, [String]?, Int64).self)
            return NodeInfo(
                name: name, startedAt: Timestamp(millisecondsSinceEpoch: started), heartbeatAt: Timestamp(millisecondsSinceEpoch: beat),
                lapsed: lapsed, serves: serves, running: Int(running), isSelf: name == node)
        }
    }
}
