import JobBasics
import JobModel

/// The lease requests that wait for work (long polling): a ``LeaseWaitList`` of decisions and
/// the continuation of each parked request, under one lock, so that whichever thread learns of
/// work (the store's writer after a submit commits) wakes the waiters itself.
final class LeaseWaiters: Sendable {
    private enum Waiter {
        case parked
        case waiting(CheckedContinuation<Void, Never>)
        case woken
    }

    private struct State {
        var list = LeaseWaitList()
        var waiters: [Int: Waiter] = [:]
        /// Tests: resumed once that many requests wait on the queue.
        var observers: [(queue: String, count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Locked(State())

    /// How many times work arrived in `queue` (read before looking in the store).
    func arrivals(in queue: String) -> UInt64 { state.withLock { $0.list.arrivals(in: queue) } }

    /// How many lease requests wait on `queue`.
    func waitingCount(in queue: String) -> Int { state.withLock { $0.list.waitingCount(in: queue) } }

    /// Returns once at least `count` requests wait on `queue` (a readiness signal for tests).
    func untilWaiting(_ count: Int, in queue: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state in
                if state.list.waitingCount(in: queue) >= count { return true }
                state.observers.append((queue, count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Wakes up to `count` requests waiting on `queue` (`nil`: all of them).
    func workArrived(in queue: String, count: Int?) {
        resume(state.withLock { state in Self.wake(state.list.workArrived(in: queue, count: count), in: &state) })
    }

    /// Wakes every waiting request.
    func workArrivedAnywhere() {
        resume(state.withLock { state in Self.wake(state.list.workArrivedAnywhere(), in: &state) })
    }

    /// Waits until work arrives in `queue` after `seen` was read, `deadline` comes on `clock`,
    /// or the calling task is cancelled (then throws `CancellationError`). Returns at once when
    /// work arrived since `seen`.
    func wait(in queue: String, seen: UInt64, until deadline: Timestamp, clock: any EngineClock) async throws {
        let parking = state.withLock { state -> (id: Int, observers: [CheckedContinuation<Void, Never>])? in
            guard let id = state.list.park(in: queue, seen: seen) else { return nil }
            state.waiters[id] = .parked
            let waiting = state.list.waitingCount(in: queue)
            let due = state.observers.filter { $0.queue == queue && $0.count <= waiting }.map(\.continuation)
            state.observers.removeAll { $0.queue == queue && $0.count <= waiting }
            return (id, due)
        }
        guard let (id, observers) = parking else { return }
        resume(observers)
        defer {
            let wasWoken = state.withLock { state -> Bool in
                state.list.remove(id, from: queue)
                defer { state.waiters[id] = nil }
                if case .woken? = state.waiters[id] { return true }
                return false
            }
            // Woken for a job but leaving without looking (its client left): the next waiter
            // looks instead, so that the job does not wait for another arrival.
            if wasWoken, Task.isCancelled { workArrived(in: queue, count: 1) }
        }
        await withTaskGroup(of: Void.self) { race in
            race.addTask { try? await clock.sleep(until: deadline) }
            race.addTask { await self.parked(id) }
            await race.next()
            race.cancelAll()
        }
        try Task.checkCancellation()
    }

    /// Returns once request `id` is woken or the task is cancelled.
    private func parked(_ id: Int) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    guard case .parked? = state.waiters[id] else { return true }
                    state.waiters[id] = .waiting(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            resume(state.withLock { state in Self.wake([id], in: &state) })
        }
    }

    private static func wake(_ ids: [Int], in state: inout State) -> [CheckedContinuation<Void, Never>] {
        var continuations: [CheckedContinuation<Void, Never>] = []
        for id in ids {
            switch state.waiters[id] {
            case .waiting(let continuation)?:
                continuations.append(continuation)
                state.waiters[id] = .woken
            case .parked?:
                state.waiters[id] = .woken
            case .woken?, nil:
                break
            }
        }
        return continuations
    }

    private func resume(_ continuations: [CheckedContinuation<Void, Never>]) {
        for continuation in continuations { continuation.resume() }
    }
}
