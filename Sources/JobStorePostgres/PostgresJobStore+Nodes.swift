import JobBasics
import JobModel
import JobStoring
import Logging
import PostgresNIO

/// Nodes: registration, heartbeats, and the rescue of a lapsed node's running jobs.
extension PostgresJobStore {
    /// Registers `node` as starting (again), serving `serves` (`nil`: every queue): its
    /// incarnation grows, so that runs it claimed in a past life are told apart from this one's.
    static func register(
        _ node: String, serving serves: [String]?, on connection: PostgresConnection, now: Timestamp, logger: Logger
    ) async throws -> Int64 {
        let time = now.millisecondsSinceEpoch
        for incarnation in try await connection.rows("""
            INSERT INTO nodes (name, incarnation, started_at, heartbeat_at, serves) VALUES (\(node), 1, \(time), \(time), \(serves))
            ON CONFLICT (name) DO UPDATE SET incarnation = nodes.incarnation + 1, started_at = excluded.started_at,
                heartbeat_at = excluded.heartbeat_at, lapsed = false, serves = excluded.serves
            RETURNING incarnation
            """, logger: logger).decoded(Int64.self) {
            return incarnation
        }
        throw PostgresJobRows.corrupt("registering node \(node) returned no incarnation")
    }

    /// Tells the store where to send what it learns of the other nodes (the daemon hands it to
    /// the engine).
    public func observe(_ handler: @escaping @Sendable (NodeEvent) -> Void) {
        events.withLock { $0 = handler }
    }

    /// Tells the store how to learn which runs this node holds, so that each beat requeues a
    /// run the database says is this node's but that the node let go of (its end could not be
    /// recorded).
    public func reportHeldRuns(_ held: @escaping @Sendable () -> Set<JobID>) {
        heldRuns.withLock { $0 = held }
    }

    func tell(_ event: NodeEvent) {
        events.withLock { $0 }?(event)
    }

    /// One heartbeat: this node's time moved on (or, if the others took it for dead, a new
    /// registration); lapsed nodes' running jobs requeued (their attempt kept apart as
    /// interrupted, as after a crash).
    func beat() async throws(JobStoreError) -> Beat {
        let now = clock()
        let time = now.millisecondsSinceEpoch
        let cutoff = now.advanced(by: .zero - heartbeat.lapse).millisecondsSinceEpoch
        let mine = incarnation
        let node = self.node
        let judging = lastBeat.withLock { $0 } >= now.advanced(by: .zero - heartbeat.lapse)
        var beat = try await write { transaction in
            var beat = Beat()
            let alive = try await transaction.values("""
                UPDATE nodes SET heartbeat_at = \(time) WHERE name = \(node) AND incarnation = \(mine) RETURNING 1
                """, as: Int32.self)
            if alive.isEmpty {
                beat.lost = true
                return beat
            }
            // A lapsed node is marked so (and its incarnation moves on, so that its next beat
            // fails) in the statement that requeues its jobs. Rows another node holds are
            // skipped: that node is beating (alive), or rescuing the same one (once is enough).
            beat.rescued = try await transaction.values("""
                WITH lapsed AS (
                    UPDATE nodes SET lapsed = true, incarnation = incarnation + 1
                    WHERE name IN (
                        SELECT name FROM nodes
                        WHERE \(judging) AND heartbeat_at < \(cutoff) AND NOT lapsed AND name <> \(node)
                        FOR UPDATE SKIP LOCKED)
                    RETURNING name
                )
                UPDATE jobs SET state = 'queued', updated_at = \(time), node = NULL, node_incarnation = NULL,
                    attempts = greatest(attempts - 1, 0), interrupted = interrupted + 1,
                    error = 'attempt ' || attempts || ' was interrupted: node ' || jobs.node || ' stopped sending its heartbeat'
                FROM lapsed
                WHERE jobs.state = 'running' AND jobs.node = lapsed.name AND jobs.lease_expires_at IS NULL
                RETURNING jobs.id
                """, as: Int64.self).map { JobID($0) }.sorted()
            return beat
        }
        if !beat.lost {
            lastBeat.withLock { $0 = now }
            beat.orphaned = try await sweepOrphanedRuns(now: now)
        }
        if beat.lost {
            // The jobs it ran were requeued by the node that found it lapsed; its runs now are
            // stale. A new incarnation claims from here on.
            let next = try await transaction { connection in
                try await Self.register(node, serving: self.serves, on: connection, now: now, logger: self.logger)
            }
            incarnations.withLock { $0 = next }
            lastBeat.withLock { $0 = now }
            // Jobs its old incarnation claimed after the rescue are nobody's: back to the queue.
            beat.rescued = try await requeuePastIncarnations()
            logger.warning("this node's heartbeat lapsed: its running jobs went to other nodes; stopping its runs", metadata: [
                "node": "\(node)", "incarnation": "\(next)",
            ])
            beat.lost = true
        }
        if !beat.rescued.isEmpty {
            logger.notice("requeued the running jobs of lapsed nodes", metadata: ["jobs": "\(beat.rescued.map(\.rawValue))"])
        }
        return beat
    }

    /// Requeues this incarnation's running jobs that its engine no longer holds (a record of a
    /// run's end that failed past ``whileReachable(_:)``), as a crash's runs are requeued: the
    /// attempt is kept apart as interrupted. Only runs claimed at least a heartbeat interval ago
    /// count, so that a claim whose answer is on its way to the engine is not taken for one.
    func sweepOrphanedRuns(now: Timestamp) async throws(JobStoreError) -> [JobID] {
        guard let held = heldRuns.withLock({ $0 }) else { return [] }
        let (node, mine) = (self.node, incarnation)
        let cutoff = now.advanced(by: .zero - heartbeat.interval).millisecondsSinceEpoch
        let running = try await rows("""
            SELECT id FROM jobs
            WHERE state = 'running' AND node = \(node) AND node_incarnation = \(mine) AND lease_expires_at IS NULL
              AND updated_at < \(cutoff)
            """) { try JobID($0.decode(Int64.self)) }
        let orphans = Set(running).subtracting(held()).map(\.rawValue).sorted()
        guard !orphans.isEmpty else { return [] }
        let time = now.millisecondsSinceEpoch
        let requeued = try await write { transaction in
            try await transaction.values("""
                UPDATE jobs SET state = 'queued', updated_at = \(time), node = NULL, node_incarnation = NULL,
                    attempts = greatest(attempts - 1, 0), interrupted = interrupted + 1,
                    error = 'attempt ' || attempts || ' was interrupted: node ' || \(node) || ' could not record its end'
                WHERE id = ANY(\(orphans)::bigint[]) AND state = 'running' AND node = \(node) AND node_incarnation = \(mine)
                RETURNING id
                """, as: Int64.self).map { JobID($0) }.sorted()
        }
        if !requeued.isEmpty {
            logger.warning("requeued running jobs whose end this node could not record", metadata: ["jobs": "\(requeued.map(\.rawValue))"])
        }
        return requeued
    }

    /// Beats every interval until cancelled, telling the daemon what each beat found, and
    /// looking for what the other nodes' notices may not have brought.
    func beatUntilCancelled() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: heartbeat.interval)
            } catch {
                return
            }
            do {
                let beat = try await beat()
                if beat.lost { tell(.lostRuns) }
                if !beat.rescued.isEmpty || !beat.orphaned.isEmpty { notify([.workSomewhere]) }
                await lookAround()
            } catch .closed {
                return
            } catch {
                logger.warning("heartbeat failed; trying again", metadata: ["error": "\(error)"])
            }
        }
    }
}
