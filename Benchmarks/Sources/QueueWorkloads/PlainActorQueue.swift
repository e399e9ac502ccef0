import DequeModule

/// A minimal actor queue with hand-off and no cancellation handling, no `taskDone`/`join`:
/// the floor that any actor-based queue pays. Used only as a reference row in the benchmarks
/// (it is not safe to cancel a task waiting in it).
actor PlainActorQueue<Element: Sendable> {
    private let maxsize: Int
    private var items = Deque<Element>()
    private var getters = Deque<UnsafeContinuation<Element?, Never>>()
    private var putters = Deque<UnsafeContinuation<Void, Never>>()
    private var closed = false

    init(maxsize: Int) { self.maxsize = maxsize }

    func put(_ item: Element) async {
        while maxsize > 0 && items.count >= maxsize {
            await withUnsafeContinuation { putters.append($0) }
        }
        if let getter = getters.popFirst() {
            getter.resume(returning: item)
            putters.popFirst()?.resume()   // the slot is still free: let the next putter see it
        } else {
            items.append(item)
        }
    }

    func get() async -> Element? {
        if let item = items.popFirst() {
            putters.popFirst()?.resume()
            return item
        }
        if closed { return nil }
        return await withUnsafeContinuation { getters.append($0) }
    }

    func close() {
        closed = true
        while let getter = getters.popFirst() { getter.resume(returning: nil) }
    }
}
