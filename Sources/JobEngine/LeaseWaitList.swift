/// Lease requests that found nothing and wait for work, by queue, as a value: who is woken
/// when work arrives, and whether work arrived between a request's look at the store and its
/// parking (each queue counts its arrivals, so that such a request looks again instead of
/// sleeping through it).
///
/// A queue that gets n new jobs wakes at most n waiters, the longest waiting first: 16
/// consumers parked on an idle queue do not all rush the store for one job.
struct LeaseWaitList: Equatable {
    private var waiting: [String: [Int]] = [:]
    private var arrivals: [String: UInt64] = [:]
    private var nextID = 0

    /// How many times work arrived in `queue`; a request reads it before it looks in the store.
    func arrivals(in queue: String) -> UInt64 { arrivals[queue] ?? 0 }

    /// Parks a request that found nothing, unless work arrived since it read `seen`: returns
    /// its id, or `nil` when it must look again at once.
    mutating func park(in queue: String, seen: UInt64) -> Int? {
        guard arrivals(in: queue) == seen else { return nil }
        nextID += 1
        waiting[queue, default: []].append(nextID)
        return nextID
    }

    /// Takes a parked request out (it timed out, its client left, or it was woken).
    mutating func remove(_ id: Int, from queue: String) {
        waiting[queue]?.removeAll { $0 == id }
        if waiting[queue]?.isEmpty == true { waiting[queue] = nil }
    }

    /// Work arrived in `queue`: `count` jobs (`nil`: an unknown number, as after a resume).
    /// Returns the requests to wake, oldest first.
    mutating func workArrived(in queue: String, count: Int?) -> [Int] {
        arrivals[queue, default: 0] &+= 1
        guard let parked = waiting[queue] else { return [] }
        let woken = Array(parked.prefix(count ?? parked.count))
        waiting[queue] = parked.count > woken.count ? Array(parked.dropFirst(woken.count)) : nil
        return woken
    }

    /// Work may have arrived anywhere (jobs waiting on others became ready): every parked
    /// request looks again.
    mutating func workArrivedAnywhere() -> [Int] {
        var woken: [Int] = []
        for queue in Set(waiting.keys).union(arrivals.keys).sorted() { woken += workArrived(in: queue, count: nil) }
        return woken
    }

    /// How many requests wait on `queue`.
    func waitingCount(in queue: String) -> Int { waiting[queue]?.count ?? 0 }
}
