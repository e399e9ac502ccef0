import AsyncQueues
import JobModel
import JobStore

/// Waiting for jobs and joining queues: asyncio's `join`, for clients.
extension JobEngine {
    /// Returns the jobs once every one of them has reached a terminal state. Throws
    /// `CancellationError` when the calling task is cancelled, and ``JobStoreError/notFound(_:)``
    /// for an unknown id.
    public func wait(for ids: [JobID]) async throws -> [Job] {
        let (token, signal) = waits.addWait(for: Set(ids))
        defer { waits.remove(token) }
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
        defer { waits.remove(token) }
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

    /// Returns once at least `count` jobs have been claimed since the start (for tests of what
    /// a claimed job that waits for a worker records).
    func untilClaimed(_ count: Int) async {
        guard let signal = claimObservers.signal(at: count, current: claimedCount) else { return }
        _ = try? await signal.get()
    }
}
