import JobBasics
import JobModel
import JobStoring
import PostgresNIO

extension PostgresJobStore {
    /// Stores `specs` as new jobs, all or none, as the SQLite store does: a spec whose
    /// idempotency key a live job holds (in the database, or earlier in the batch) answers that
    /// job; a spec with dependencies is `blocked` until they all succeeded, or `failed` at once
    /// when one already failed or was cancelled; a refused batch stores nothing.
    public func insert(_ specs: [JobSpec]) async throws(JobStoreError) -> [SubmittedJob] {
        for (index, spec) in specs.enumerated() {
            do {
                try spec.validate()
            } catch {
                throw .invalidSpec(index: specs.count == 1 ? nil : index, error)
            }
        }
        if specs.isEmpty { return [] }
        let now = clock()
        if let submitted = try await insertAlone(specs, now: now) { return submitted }
        let (submitted, kinds) = try await transaction { connection in
            let kinds = try await Self.settleQueueKinds(specs, on: connection, logger: self.logger)
            var submitted: [SubmittedJob] = []
            submitted.reserveCapacity(specs.count)
            var plainStart: Int?
            func storePlain(upTo end: Int) async throws {
                guard let start = plainStart else { return }
                plainStart = nil
                submitted += try await self.insertQueued(specs[start..<end], now: now, on: connection)
                    .map { SubmittedJob(job: $0, created: true) }
            }
            for (index, spec) in specs.enumerated() {
                if spec.idempotencyKey == nil && spec.after.isEmpty {
                    if plainStart == nil { plainStart = index }
                    continue
                }
                try await storePlain(upTo: index)
                submitted.append(try await self.insert(spec, index: specs.count == 1 ? nil : index, now: now, on: connection))
            }
            try await storePlain(upTo: specs.count)
            return (submitted, kinds)
        }
        // Only once committed: a batch rolled back may have written a new queue's kind that
        // another node then writes otherwise.
        queueKinds.withLock { $0.merge(kinds) { old, _ in old } }
        for item in submitted where item.created { notifyReady(item.job) }
        return submitted
    }

    /// Stores plain specs (no key, no dependency) of queues whose kind this node knows in one
    /// statement that commits alone; nil when the batch needs ``insert(_:)``'s transaction.
    /// A spec of the wrong kind is refused without a statement: a queue's kind never changes.
    private func insertAlone(_ specs: [JobSpec], now: Timestamp) async throws(JobStoreError) -> [SubmittedJob]? {
        let known = queueKinds.withLock { $0 }
        for (index, spec) in specs.enumerated() {
            guard spec.idempotencyKey == nil, spec.after.isEmpty, let payload = known[spec.queue] else { return nil }
            if payload != spec.command.isPayload {
                throw .wrongQueueKind(index: specs.count == 1 ? nil : index, queue: spec.queue, payloadQueue: payload)
            }
        }
        let jobs = try await autocommit { transaction in
            try await self.insertQueued(specs[...], now: now, on: transaction.connection)
        }
        for job in jobs { notifyReady(job) }
        return jobs.map { SubmittedJob(job: $0, created: true) }
    }

    /// Records each new queue's kind (commands or payloads: the first job's) and refuses a spec
    /// of the other kind. Concurrent first jobs of one queue from two nodes agree: the row
    /// one of them wrote first is the one both read.
    /// Answers the kinds (true: payloads) of the batch's queues.
    static func settleQueueKinds(_ specs: [JobSpec], on connection: PostgresConnection, logger: Logger) async throws -> [String: Bool] {
        var known: [String: Bool] = [:]
        for (index, spec) in specs.enumerated() {
            let payload = spec.command.isPayload
            let kind: Bool
            if let seen = known[spec.queue] {
                kind = seen
            } else {
                try await connection.run("""
                    INSERT INTO queue_kinds (queue, kind) VALUES (\(spec.queue), \(payload ? "payload" : "command"))
                    ON CONFLICT (queue) DO NOTHING
                    """, logger: logger)
                var stored: String?
                for name in try await connection.rows(
                    "SELECT kind FROM queue_kinds WHERE queue = \(spec.queue)", logger: logger
                ).decoded(String.self) {
                    stored = name
                }
                kind = stored == "payload"
            }
            known[spec.queue] = kind
            if kind != payload {
                throw JobStoreError.wrongQueueKind(index: specs.count == 1 ? nil : index, queue: spec.queue, payloadQueue: kind)
            }
        }
        return known
    }

    /// Stores specs without key or dependency as `queued` jobs, in one statement, and answers
    /// them in order: the rows come from `unnest … WITH ORDINALITY` in order, so their ids
    /// ascend with it.
    func insertQueued(_ specs: ArraySlice<JobSpec>, now: Timestamp, on connection: PostgresConnection) async throws -> [Job] {
        let queues = specs.map(\.queue)
        let priorities = specs.map { Int64($0.priority) }
        let runAts = specs.map { ($0.runAt ?? now).millisecondsSinceEpoch }
        let texts = specs.map(\.compactJSON)
        // Arrays carry no NULLs here: "" stands for no label (a label is never empty), -1 for no
        // submitter (a uid is never negative).
        let labels = specs.map { $0.label ?? "" }
        let submitters = specs.map { $0.submitterUID.map(Int64.init) ?? -1 }
        let attempts = specs.map { Int64($0.retry.maxAttempts) }
        let time = now.millisecondsSinceEpoch
        var ids: [Int64] = []
        ids.reserveCapacity(specs.count)
        for id in try await connection.rows("""
            INSERT INTO jobs (state, queue, priority, run_at, spec, label, submitter_uid, max_attempts, created_at, updated_at)
            SELECT 'queued', q, p, r, s, NULLIF(l, ''), NULLIF(u, -1), m, \(time), \(time)
            FROM unnest(\(queues)::text[], \(priorities)::bigint[], \(runAts)::bigint[], \(texts)::text[],
                        \(labels)::text[], \(submitters)::bigint[], \(attempts)::bigint[])
                 WITH ORDINALITY AS spec (q, p, r, s, l, u, m, position)
            ORDER BY position
            RETURNING id
            """, logger: logger).decoded(Int64.self) {
            ids.append(id)
        }
        ids.sort()
        return zip(ids, specs).map { id, spec in
            Job(id: JobID(id), spec: spec, state: .queued, runAt: spec.runAt ?? now, createdAt: now, updatedAt: now)
        }
    }

    /// Stores one spec with an idempotency key or dependencies.
    func insert(_ spec: JobSpec, index: Int?, now: Timestamp, on connection: PostgresConnection) async throws -> SubmittedJob {
        if let key = spec.idempotencyKey, let existing = try await liveJob(holding: key, on: connection) {
            return SubmittedJob(job: existing, created: false)
        }
        let transaction = PostgresTransaction(connection: connection, logger: logger, node: node)
        var dependencies: [(JobID, JobState?)] = []
        for dependency in Set(spec.after).sorted() { dependencies.append((dependency, try await transaction.state(of: dependency))) }
        let (state, pending, error) = try StoreRules.newJob(after: dependencies, index: index)
        let runAt = spec.runAt ?? now
        let time = now.millisecondsSinceEpoch
        let finishedAt: Int64? = state == .failed ? time : nil
        // A key taken meanwhile by another node's insert: nothing is stored, and that job answers.
        var inserted: Int64?
        for id in try await connection.rows("""
            INSERT INTO jobs (state, queue, priority, run_at, spec, idempotency_key, label, submitter_uid,
                              max_attempts, pending_deps, created_at, updated_at, finished_at, error)
            VALUES (\(state.rawValue), \(spec.queue), \(Int64(spec.priority)), \(runAt.millisecondsSinceEpoch),
                    \(spec.compactJSON), \(spec.idempotencyKey), \(spec.label), \(spec.submitterUID.map(Int64.init)),
                    \(Int64(spec.retry.maxAttempts)), \(Int64(pending.count)), \(time), \(time), \(finishedAt), \(error))
            ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL AND state IN ('queued', 'blocked', 'running')
            DO NOTHING
            RETURNING id
            """, logger: logger).decoded(Int64.self) {
            inserted = id
        }
        guard let id = inserted.map({ JobID($0) }) else {
            guard let key = spec.idempotencyKey, let existing = try await liveJob(holding: key, on: connection) else {
                throw PostgresJobRows.corrupt("an insert stored nothing and no live job holds its key")
            }
            return SubmittedJob(job: existing, created: false)
        }
        if !pending.isEmpty {
            try await connection.run("""
                INSERT INTO job_dependencies (job_id, depends_on)
                SELECT \(id.rawValue), unnest(\(pending.map(\.rawValue))::bigint[])
                """, logger: logger)
        }
        let job = Job(
            id: id, spec: spec, state: state, runAt: runAt, createdAt: now, updatedAt: now,
            finishedAt: state == .failed ? now : nil, error: error)
        return SubmittedJob(job: job, created: true)
    }

    /// The queued, blocked or running job that holds idempotency key `key`.
    func liveJob(holding key: String, on connection: PostgresConnection) async throws -> Job? {
        for row in try await connection.rows("""
            SELECT \(unescaped: jobColumns) FROM jobs
            WHERE idempotency_key = \(key) AND state IN ('queued', 'blocked', 'running')
            """, logger: logger) {
            return try PostgresJobRows.job(from: row)
        }
        return nil
    }
}
