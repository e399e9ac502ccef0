import AsyncQueues
import JobBasics
import JobModel
import JobStoring

/// Waiting for jobs and joining queues: asyncio's `join`, for clients.
extension JobEngine {
    /// Handles one message of the inbox. Returns `true` once the drain is done.
    func apply(_ message: EngineMessage, in group: inout DiscardingTaskGroup) async -> Bool {
        switch message {
        case .terminal(let ids, let queue):
            await settle(ids, queue: queue, in: &group)
        case .joinCounts(let counts):
            let (done, again) = waits.countsRead(counts)
            for signal in done { try? await signal.putNowait(()) }
            if again { countForJoins(in: &group) }
        case .publishFinished(let ids):
            group.addTask { await self.publishFinished(ids) }
        case .finishedElsewhere(let ids):
            await settle(ids, queue: nil, in: &group)
            // Read only for subscribers: this node's metrics do not count them.
            if hub.hasSubscribers { group.addTask { await self.publishFinished(ids, counted: false) } }
        case .lookAgain:
            let awaited = waits.awaitedIDs
            if !awaited.isEmpty {
                group.addTask { [store, inbox] in
                    if let finished = try? await store.terminal(among: awaited.sorted()), !finished.isEmpty {
                        inbox.yield(.terminal(finished, queue: nil))
                    }
                }
            }
            if waits.needsRecheck(queueStillRuns: false) { countForJoins(in: &group) }
        case .drained:
            return true
        }
        return false
    }

    /// Jobs reached a terminal state (here or on another node): the waits for them resolve, and
    /// the joins count again unless `queue` (all of theirs) still runs a job here.
    private func settle(_ ids: [JobID], queue: String?, in group: inout DiscardingTaskGroup) async {
        for signal in waits.resolve(ids) { try? await signal.putNowait(()) }
        let queueStillRuns = queue.map { name in core.withLock { $0.state.hasUncancelledRun(in: name) } } ?? false
        if waits.needsRecheck(queueStillRuns: queueStillRuns) { countForJoins(in: &group) }
    }

    private func countForJoins(in group: inout DiscardingTaskGroup) {
        group.addTask { [store, inbox] in inbox.yield(.joinCounts(try? await store.counts())) }
    }

    /// Keeps the core's count of waits and joins as the registry's.
    private func noteWaiters() {
        let (ids, joins) = (waits.waitCount, waits.joinCount)
        core.withLock { core in
            core.idWaits = ids
            core.joins = joins
        }
    }

    /// Returns the jobs once every one of them has reached a terminal state. Throws
    /// `CancellationError` when the calling task is cancelled, and ``JobStoreError/notFound(_:)``
    /// for an unknown id.
    public func wait(for ids: [JobID]) async throws -> [Job] {
        let (token, signal) = waits.addWait(for: Set(ids))
        noteWaiters()
        defer {
            waits.remove(token)
            noteWaiters()
        }
        for id in Set(ids) {
            guard let job = try await store.job(id) else { throw JobStoreError.notFound(id) }
            if job.state.isTerminal {
                for due in waits.resolve([id]) { try? await due.putNowait(()) }
            }
        }
        if waits.isPending(token) {
            try await signal.get()
        }
        var jobs: [Job] = []
        for id in ids {
            guard let job = try await store.job(id) else { throw JobStoreError.notFound(id) }
            jobs.append(job)
        }
        return jobs
    }

    /// Returns once every job of `queue` (of every queue when `nil`) is in a terminal state:
    /// asyncio's `join`. Throws `CancellationError` when the calling task is cancelled.
    public func join(queue: String? = nil) async throws {
        let (token, signal) = waits.addJoin(queue: queue)
        noteWaiters()
        defer {
            waits.remove(token)
            noteWaiters()
        }
        for observer in joinObservers.reached(waits.joinCount) { try? await observer.putNowait(()) }
        if WaitRegistry.liveCount(queue, in: try await store.counts()) > 0 {
            try await signal.get()
        }
    }

    /// Returns once at least `count` joins wait (for tests that finish jobs under waiting joins).
    func untilJoinWaiters(_ count: Int) async {
        guard let signal = joinObservers.signal(at: count, current: waits.joinCount) else { return }
        _ = try? await signal.get()
    }
}
