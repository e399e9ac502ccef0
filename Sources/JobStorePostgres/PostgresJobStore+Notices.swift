import JobBasics
import JobModel
import JobStoring
import Logging
import PostgresNIO

/// Wake-ups between nodes: LISTEN/NOTIFY on the channel `jobq`, as hints. What a node writes
/// that another node may act on (ready work, finished jobs, a pause, a change of workers) is
/// gathered and sent as a few NOTIFY payloads at most once per ``noticeWindow``, so that under
/// load nodes exchange a handful of notifications a second, not one per job. A lost notice
/// (a listener reconnecting, the database restarting) costs at most one heartbeat interval:
/// each beat looks for ready work, and the engine then looks again at what its waits and joins
/// wait for.
extension PostgresJobStore {
    /// The channel every node listens on.
    static let channel = "jobq"
    /// The shortest time between two sends of one node's notices; the first notice after a
    /// quiet moment goes at once.
    static let noticeWindow = Duration.milliseconds(20)

    /// Gathers `notices` for the next send.
    func notify(_ notices: [NodeNotice]) {
        guard !notices.isEmpty else { return }
        pendingNotices.withLock { batch in for notice in notices { batch.add(notice) } }
        noticeBell.ring()
    }

    /// Notices for a finished run and what its end settled.
    func notifyFinished(_ finished: FinishedJob) {
        var notices: [NodeNotice] = []
        if finished.job.state.isTerminal { notices.append(.finished([finished.job.id] + finished.failedDependents)) }
        if !finished.unblocked.isEmpty { notices.append(.workSomewhere) }
        notify(notices)
    }

    /// A notice that `job` is ready (queued) in its queue.
    func notifyReady(_ job: Job) {
        guard job.state == .queued else { return }
        notify([.work(queue: job.spec.queue, payload: job.spec.command.isPayload)])
    }

    /// Sends the gathered notices, at most once per window, until cancelled. A send that fails
    /// is dropped: the notices were hints.
    func sendNoticesUntilCancelled() async {
        while !Task.isCancelled {
            await noticeBell.wait()
            let batch = pendingNotices.withLock { batch in
                defer { batch = NoticeBatch() }
                return batch
            }
            if batch.isEmpty { continue }
            let payloads = batch.payloads(from: sender)
            do {
                try await client.withConnection { connection in
                    try await connection.run(
                        "SELECT pg_notify(\(Self.channel), p) FROM unnest(\(payloads)::text[]) AS p", logger: self.logger)
                }
            } catch {
                logger.debug("could not notify the other nodes", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await Task.sleep(for: Self.noticeWindow)
        }
    }

    /// Listens for the other nodes' notices on a connection of its own until cancelled,
    /// reconnecting after a failure (every interval of the heartbeat at most).
    func listenUntilCancelled() async {
        var delay = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                let connection = try await configuration.connect(logger: logger)
                do {
                    try await withTaskCancellationHandler {
                        try await connection.listen(on: Self.channel) { notifications in
                            delay = .milliseconds(100)
                            // Notices sent while this node was not listening are lost: look once.
                            await self.lookAround()
                            for try await notification in notifications {
                                await self.heard(notification.payload)
                            }
                        }
                    } onCancel: {
                        connection.close().whenComplete { _ in }
                    }
                } catch {
                    // A connection the server cut must still be closed before it is let go.
                    try? await connection.close().get()
                    throw error
                }
                try? await connection.close().get()
            } catch {
                if Task.isCancelled { return }
                logger.info("listening for the other nodes failed; trying again", metadata: [
                    "error": "\(String(reflecting: error))", "retry_in": "\(delay)",
                ])
            }
            do {
                try await Task.sleep(for: delay)
            } catch {
                return
            }
            delay = min(delay * 2, heartbeat.interval)
        }
    }

    /// Hands another node's notices to the daemon.
    func heard(_ payload: String) async {
        let (from, notices) = NoticeBatch.read(payload)
        guard from != sender else { return }
        var commands: Set<String> = [], payloads: Set<String> = [], somewhere = false
        for notice in notices {
            switch notice {
            case let .work(queue, payload): if payload { payloads.insert(queue) } else { commands.insert(queue) }
            case .workSomewhere: somewhere = true
            case .finished(let ids): tell(.finishedElsewhere(ids))
            case let .paused(queue, paused): tell(.pausedElsewhere(queue: queue, paused))
            case let .workers(queue, count): tell(.workersChangedElsewhere(queue: queue, count))
            case .output(let ids): outputStored(ids)
            }
        }
        if somewhere, let ready = try? await queuesWithReadyWork() {
            commands.formUnion(ready.commands)
            payloads.formUnion(ready.payloads)
        }
        if !commands.isEmpty || !payloads.isEmpty {
            tell(.workMayHaveArrived(commands: commands, payloads: payloads))
        }
    }

    /// Makes up for notices this node may have missed: tells the daemon of the queues with
    /// ready work, of the queues' pauses and workers, and that the jobs its clients wait for
    /// may have finished elsewhere.
    func lookAround() async {
        if let ready = try? await queuesWithReadyWork(), !ready.commands.isEmpty || !ready.payloads.isEmpty {
            tell(.workMayHaveArrived(commands: ready.commands, payloads: ready.payloads))
        }
        if let paused = try? await pausedQueues(), let workers = try? await storedWorkers() {
            tell(.queueSettings(paused: Set(paused), workers: workers))
        }
        tell(.looked)
        wakeOutputFollowers()
    }

    /// The queues that have queued jobs, by kind.
    func queuesWithReadyWork() async throws(JobStoreError) -> (commands: Set<String>, payloads: Set<String>) {
        let rows = try await rows("""
            SELECT c.queue, coalesce(k.kind, 'command') FROM job_counts c LEFT JOIN queue_kinds k ON k.queue = c.queue
            WHERE c.state = 'queued' GROUP BY c.queue, k.kind HAVING sum(c.n) > 0
            """) { try $0.decode((String, String).self) }
        var commands: Set<String> = [], payloads: Set<String> = []
        for (queue, kind) in rows {
            if kind == "payload" { payloads.insert(queue) } else { commands.insert(queue) }
        }
        return (commands, payloads)
    }
}

