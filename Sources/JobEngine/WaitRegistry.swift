import AsyncQueues
import JobModel
import JobStoring

/// The waits and joins in progress, and when a join must look at the store's counts again.
///
/// A wait names jobs and is resolved once every one of them is terminal. A join names a queue
/// (or every queue) and is resolved once the store counts no live job there: the registry asks
/// for a count after a job reaches a terminal state, one count at a time (terminal states that
/// arrive during a count make it look once more), and not at all while a job of that queue
/// still runs (no join it concerns can be done yet). Each waiter's signal is a one-slot
/// ``AsyncQueue``, put to once, so that a cancelled waiter leaves nothing behind.
struct WaitRegistry {
    private var idWaiters: [Int: (remaining: Set<JobID>, signal: AsyncQueue<Void>)] = [:]
    private var joinWaiters: [Int: (queue: String?, signal: AsyncQueue<Void>)] = [:]
    private var nextToken = 0
    private var recheckNeeded = false
    private var recheckRunning = false
    /// The newest token when the count in progress started: a join registered after it reads
    /// the counts itself, and a count read before it registered must not resolve it.
    private var countHorizon = 0

    var joinCount: Int { joinWaiters.count }
    var waitCount: Int { idWaiters.count }

    /// Registers a wait for `ids`; returns its token and signal.
    mutating func addWait(for ids: Set<JobID>) -> (token: Int, signal: AsyncQueue<Void>) {
        nextToken += 1
        let signal = AsyncQueue<Void>(maxsize: 1)
        idWaiters[nextToken] = (ids, signal)
        return (nextToken, signal)
    }

    /// Registers a join of `queue` (every queue when `nil`); returns its token and signal.
    mutating func addJoin(queue: String?) -> (token: Int, signal: AsyncQueue<Void>) {
        nextToken += 1
        let signal = AsyncQueue<Void>(maxsize: 1)
        joinWaiters[nextToken] = (queue, signal)
        return (nextToken, signal)
    }

    /// Forgets a wait or join (it returned, or its task was cancelled).
    mutating func remove(_ token: Int) {
        idWaiters[token] = nil
        joinWaiters[token] = nil
    }

    /// The jobs the waits still wait for.
    var awaitedIDs: Set<JobID> { idWaiters.values.reduce(into: []) { $0.formUnion($1.remaining) } }

    /// Whether the wait still has jobs to see terminal.
    func isPending(_ token: Int) -> Bool { idWaiters[token]?.remaining.isEmpty == false }

    /// Jobs reached a terminal state: the signals of the waits now complete.
    mutating func resolve(_ ids: [JobID]) -> [AsyncQueue<Void>] {
        var due: [AsyncQueue<Void>] = []
        for id in ids {
            for (token, waiter) in idWaiters where waiter.remaining.contains(id) {
                idWaiters[token]?.remaining.remove(id)
                if idWaiters[token]?.remaining.isEmpty == true { due.append(waiter.signal) }
            }
        }
        return due
    }

    /// Whether the joins must be checked against the store's counts now: `true` starts a count
    /// (the caller reads the counts, then calls ``countsRead(_:)``). `queueStillRuns` says that
    /// every terminal job was of one queue in which another job still runs.
    mutating func needsRecheck(queueStillRuns: Bool) -> Bool {
        if joinWaiters.isEmpty || queueStillRuns { return false }
        recheckNeeded = true
        if recheckRunning { return false }
        recheckRunning = true
        recheckNeeded = false
        countHorizon = nextToken
        return true
    }

    /// The counts of a recheck: the signals of the joins now done, and whether to count again.
    mutating func countsRead(_ counts: [QueueCounts]?) -> (done: [AsyncQueue<Void>], again: Bool) {
        var done: [AsyncQueue<Void>] = []
        if let counts {
            for (token, waiter) in joinWaiters where token <= countHorizon && Self.liveCount(waiter.queue, in: counts) == 0 {
                done.append(waiter.signal)
            }
        }
        if counts != nil, recheckNeeded, !joinWaiters.isEmpty {
            recheckNeeded = false
            countHorizon = nextToken
            return (done, true)
        }
        recheckRunning = false
        recheckNeeded = false
        return (done, false)
    }

    /// Jobs not yet terminal (queued, blocked, running) in `queue`, or in every queue when nil.
    static func liveCount(_ queue: String?, in counts: [QueueCounts]) -> Int {
        counts.filter { queue == nil || $0.queue == queue }
            .reduce(0) { $0 + $1[.queued] + $1[.blocked] + $1[.running] }
    }
}
