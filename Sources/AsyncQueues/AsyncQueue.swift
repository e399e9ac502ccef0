import DequeModule

/// A queue for producer and consumer tasks with the behaviour of CPython 3.13's
/// `asyncio.Queue`: producers ``put(_:)`` items, consumers ``get()`` them, each consumer calls
/// ``taskDone()`` when it has finished with an item, and ``join()`` returns once every item put
/// has been finished.
///
/// ```swift
/// let queue = AsyncQueue<URL>(maxsize: 100)          // put suspends while 100 are waiting
/// try await withThrowingTaskGroup(of: Void.self) { group in
///     for _ in 0..<4 {                               // four workers
///         group.addTask {
///             for try await url in queue {           // ends when the queue is shut down
///                 await fetch(url)
///                 try await queue.taskDone()
///             }
///         }
///     }
///     for url in urls { try await queue.put(url) }
///     try await queue.join()                         // every URL fetched
///     await queue.shutdown()
/// }
/// ```
///
/// ## Semantics
/// - `maxsize <= 0` means unbounded; otherwise ``put(_:)`` suspends while ``count`` is at
///   `maxsize`, and ``putNowait(_:)`` throws ``AsyncQueueError/full``.
/// - Items come out in the ``AsyncQueueOrdering`` chosen at construction: FIFO, LIFO or
///   priority (smallest first).
/// - Suspended getters, putters and joiners wait in FIFO lines. Each put wakes the oldest
///   waiting getter, each get the oldest waiting putter. There is no hand-off: a woken waiter
///   checks the queue again when it runs, and waits again (at the back of the line) if another
///   task took the item or the slot first.
/// - Cancelling a waiting ``get()``, ``put(_:)`` or ``join()`` removes only that waiter and
///   throws `CancellationError`. A waiter that was woken and then cancelled before it ran
///   passes its wake-up to the next in line, so no item or free slot is ever stranded, and a
///   cancelled ``get()`` never takes an item, a cancelled ``put(_:)`` never inserts one.
/// - ``shutdown(immediate:)`` stops further puts; getters drain what is left, then get
///   ``AsyncQueueError/shutDown``. An immediate shutdown also discards the waiting items and
///   counts them as done.
/// - Calls that do not wait (``putNowait(_:)``, ``getNowait()``, ``taskDone()``,
///   ``shutdown(immediate:)``) never suspend inside the actor, so a task already on the
///   queue's executor sees their effects at once.
///
/// The queue is an actor: its isolation replaces asyncio's binding to one event loop, so it
/// may be used from any task.
public final actor AsyncQueue<Element: Sendable> {
    /// The capacity of the queue; `0` (or less) means unbounded. Fixed at construction.
    public nonisolated let maxsize: Int

    // The hot paths are @inlinable so that clients get them specialized for their element
    // type (no generic metadata look-ups per call); the state they touch is @usableFromInline.
    //
    // @exclusivity(unchecked): the runtime's dynamic exclusivity checks on these properties
    // cost 4x on the fast paths (6.7 M → 26 M items/s unbounded, Benchmarks/README.md). They
    // are not needed to prove safety here:
    // - actor isolation already rules out access from two threads at once;
    // - within the actor, no access overlaps another to the same property: the only `inout`
    //   accesses are `storage.push/pop` (which touch nothing else of the actor) and
    //   `withLine(_:_:)`, whose bodies use only the deque passed in; `notifyObservers`
    //   mutates `observers` while reading the three waiter deques, distinct properties;
    //   `spareWaiters` is touched only by single `popLast`/`append` calls.
    // Any new code that passes one of these properties `inout` must keep that rule.
    @exclusivity(unchecked) @usableFromInline var storage: QueueStorage<Element>
    @exclusivity(unchecked) @usableFromInline var getters = Deque<Waiter>()
    @exclusivity(unchecked) @usableFromInline var putters = Deque<Waiter>()
    @exclusivity(unchecked) @usableFromInline var joiners = Deque<Waiter>()
    /// Waiters whose wait has ended, kept for the next waits (a queue at maxsize 1 suspends
    /// about twice per item): at most ``maxSpareWaiters``.
    @exclusivity(unchecked) @usableFromInline var spareWaiters: [Waiter] = []
    @usableFromInline static var maxSpareWaiters: Int { 16 }
    @exclusivity(unchecked) @usableFromInline var _unfinishedTasks = 0
    @exclusivity(unchecked) @usableFromInline var _isShutDown = false
    /// Tasks waiting, in ``untilWaiting(getters:putters:joiners:)``, for given numbers of
    /// waiters; checked whenever a waiter joins or leaves a line.
    @exclusivity(unchecked) @usableFromInline var observers: [Observer] = []

    @usableFromInline struct Observer {
        let getters: Int?
        let putters: Int?
        let joiners: Int?
        let continuation: CheckedContinuation<Void, Never>
    }

    /// The number of items put and not yet marked done with ``taskDone()``: items still in the
    /// queue plus items taken and still being worked on.
    @inlinable public var unfinishedTasks: Int { _unfinishedTasks }

    /// Whether ``shutdown(immediate:)`` has been called.
    @inlinable public var isShutDown: Bool { _isShutDown }

    /// Creates an empty queue.
    ///
    /// - Parameters:
    ///   - maxsize: The number of items the queue holds before ``put(_:)`` suspends; `0` or less
    ///     for no limit.
    ///   - ordering: The order in which items are taken: ``AsyncQueueOrdering/fifo`` (default),
    ///     ``AsyncQueueOrdering/lifo`` or ``AsyncQueueOrdering/priority(by:)``.
    @inlinable public init(maxsize: Int = 0, ordering: AsyncQueueOrdering<Element> = .fifo) {
        self.maxsize = maxsize
        self.storage = QueueStorage(ordering)
    }

    // MARK: Introspection

    /// The number of items in the queue now (items taken by a getter are not counted).
    @inlinable public var count: Int { storage.count }

    /// Whether the queue holds no item.
    @inlinable public var isEmpty: Bool { storage.isEmpty }

    /// Whether the queue holds `maxsize` items or more; never true for an unbounded queue.
    @inlinable public var isFull: Bool { maxsize > 0 && storage.count >= maxsize }

    /// The number of tasks suspended in ``get()``.
    public var waitingGetters: Int { getters.count }

    /// The number of tasks suspended in ``put(_:)``.
    public var waitingPutters: Int { putters.count }

    /// The number of tasks suspended in ``join()``.
    public var waitingJoiners: Int { joiners.count }

    /// A one-line summary of the queue's state, in the spirit of asyncio's `Queue.__str__`:
    /// `maxsize=N`, then `items=[…]` (in taking order) when not empty, `getters[n]` and
    /// `putters[n]` when tasks wait, `tasks=n` when items are unfinished and `shutdown` once
    /// shut down.
    public var stateDescription: String {
        var parts = ["maxsize=\(maxsize)"]
        if !storage.isEmpty { parts.append("items=\(storage.inTakingOrder)") }
        if !getters.isEmpty { parts.append("getters[\(getters.count)]") }
        if !putters.isEmpty { parts.append("putters[\(putters.count)]") }
        if _unfinishedTasks > 0 { parts.append("tasks=\(unfinishedTasks)") }
        if _isShutDown { parts.append("shutdown") }
        return parts.joined(separator: " ")
    }

    /// Suspends until exactly the given numbers of tasks wait in ``get()``, ``put(_:)`` and
    /// ``join()`` (a `nil` count is not checked). For tests that must know a task is waiting
    /// before they act, without sleeping. Not cancellable: use it only where the state is
    /// certain to be reached.
    package func untilWaiting(getters: Int? = nil, putters: Int? = nil, joiners: Int? = nil) async {
        if matches(getters: getters, putters: putters, joiners: joiners) { return }
        await withCheckedContinuation { continuation in
            observers.append(Observer(getters: getters, putters: putters, joiners: joiners, continuation: continuation))
        }
    }

    private func matches(getters: Int?, putters: Int?, joiners: Int?) -> Bool {
        (getters == nil || getters == self.getters.count)
            && (putters == nil || putters == self.putters.count)
            && (joiners == nil || joiners == self.joiners.count)
    }

    /// Resumes the observers whose counts now hold.
    @usableFromInline func notifyObservers() {
        observers.removeAll { observer in
            guard matches(getters: observer.getters, putters: observer.putters, joiners: observer.joiners) else {
                return false
            }
            observer.continuation.resume()
            return true
        }
    }

    // MARK: Putting

    /// Puts an item into the queue, suspending while the queue is full.
    ///
    /// - Throws: ``AsyncQueueError/shutDown`` if the queue is shut down (before or while
    ///   waiting); `CancellationError` if the task is cancelled while waiting, in which case the
    ///   item is not inserted.
    @inlinable public func put(_ item: Element) async throws {
        while isFull {
            if _isShutDown { throw AsyncQueueError.shutDown }
            try await waitInLine(.putters)
            if Task.isCancelled {
                // Woken, then cancelled before it could run: pass the free slot on.
                if !isFull { wakeNext(in: .putters) }
                throw CancellationError()
            }
        }
        try putNowait(item)
    }

    /// Puts an item into the queue without waiting.
    ///
    /// - Throws: ``AsyncQueueError/shutDown`` if the queue is shut down (checked first), else
    ///   ``AsyncQueueError/full`` if it holds `maxsize` items.
    @inlinable public func putNowait(_ item: Element) throws(AsyncQueueError) {
        if _isShutDown { throw .shutDown }
        if isFull { throw .full }
        storage.push(item)
        _unfinishedTasks += 1
        wakeNext(in: .getters)
    }

    // MARK: Getting

    /// Removes and returns the next item, suspending while the queue is empty.
    ///
    /// - Throws: ``AsyncQueueError/shutDown`` once the queue is shut down and empty;
    ///   `CancellationError` if the task is cancelled while waiting, in which case no item is
    ///   taken.
    @inlinable public func get() async throws -> Element {
        while storage.isEmpty {
            if _isShutDown { throw AsyncQueueError.shutDown }
            try await waitInLine(.getters)
            if Task.isCancelled {
                // Woken, then cancelled before it could run: pass the item on.
                if !storage.isEmpty { wakeNext(in: .getters) }
                throw CancellationError()
            }
        }
        return try getNowait()
    }

    /// Removes and returns the next item without waiting.
    ///
    /// - Throws: ``AsyncQueueError/shutDown`` if the queue is empty and shut down, else
    ///   ``AsyncQueueError/empty`` if it is empty.
    @inlinable public func getNowait() throws(AsyncQueueError) -> Element {
        guard let item = storage.pop() else {
            throw _isShutDown ? .shutDown : .empty
        }
        wakeNext(in: .putters)
        return item
    }

    // MARK: Finishing

    /// Marks one item put earlier as finished. When every item put has been marked,
    /// every task waiting in ``join()`` resumes.
    ///
    /// Like asyncio, the call is not tied to a particular item or to a prior ``get()``.
    ///
    /// - Throws: ``AsyncQueueError/taskDoneCalledTooManyTimes`` when no item is unfinished;
    ///   nothing changes then.
    @inlinable public func taskDone() throws(AsyncQueueError) {
        guard _unfinishedTasks > 0 else { throw .taskDoneCalledTooManyTimes }
        _unfinishedTasks -= 1
        if _unfinishedTasks == 0 { wakeAll(in: .joiners) }
    }

    /// Suspends until every item put has been marked done with ``taskDone()``; returns at once
    /// when none is unfinished.
    ///
    /// Once the count reaches zero every waiting joiner resumes, even if a new item is put
    /// before it runs (asyncio's `Event` semantics).
    ///
    /// - Throws: `CancellationError` if the task is cancelled while waiting; no counter changes.
    @inlinable public func join() async throws {
        if _unfinishedTasks > 0 {
            try await waitInLine(.joiners)
        }
    }

    // MARK: Shutting down

    /// Shuts the queue down: from now on ``put(_:)`` and ``putNowait(_:)`` throw
    /// ``AsyncQueueError/shutDown``, and every suspended getter and putter wakes to check again.
    /// Getters keep receiving the items left, and throw ``AsyncQueueError/shutDown`` once it is
    /// empty. ``taskDone()`` and ``join()`` keep working.
    ///
    /// With `immediate: true` the items still in the queue are removed and each counts as done
    /// (``unfinishedTasks`` never goes below zero); if that brings it to zero, ``join()``
    /// returns. Items already taken by a getter still need their ``taskDone()``.
    ///
    /// The call is idempotent, may be repeated with `immediate: true` after a normal shutdown,
    /// and never throws.
    ///
    /// - Parameter immediate: Whether to discard the items still waiting.
    /// - Returns: The items an immediate shutdown removed, in taking order (asyncio discards
    ///   them; a caller that must put them back somewhere, such as a durable store, gets them
    ///   here). Empty for a normal shutdown.
    @discardableResult
    public func shutdown(immediate: Bool = false) -> [Element] {
        _isShutDown = true
        var removed: [Element] = []
        if immediate {
            while let item = storage.pop() {
                removed.append(item)
                if _unfinishedTasks > 0 { _unfinishedTasks -= 1 }
            }
            if _unfinishedTasks == 0 { wakeAll(in: .joiners) }
        }
        wakeAll(in: .getters)
        wakeAll(in: .putters)
        return removed
    }

    // MARK: Waiter lines

    @usableFromInline enum Line {
        case getters, putters, joiners
    }

    @inlinable func withLine<R>(_ line: Line, _ body: (inout Deque<Waiter>) -> R) -> R {
        switch line {
        case .getters: body(&getters)
        case .putters: body(&putters)
        case .joiners: body(&joiners)
        }
    }

    /// Joins the back of `line` and suspends until woken. On cancellation the waiter leaves
    /// the line (if a wake-up pass has not already removed it) and `CancellationError` is thrown.
    @inlinable func waitInLine(_ line: Line) async throws {
        try Task.checkCancellation()
        let waiter = spareWaiters.popLast() ?? Waiter()
        defer { recycle(waiter) }
        withLine(line) { $0.append(waiter) }
        if !observers.isEmpty { notifyObservers() }
        do {
            try await waiter.wait(isolation: self)
        } catch {
            withLine(line) { waiters in
                if let index = waiters.firstIndex(where: { $0 === waiter }) {
                    waiters.remove(at: index)
                }
            }
            if !observers.isEmpty { notifyObservers() }
            throw error
        }
    }

    /// Keeps a waiter whose wait has ended for a later wait. By then nothing else can reach
    /// it: a wake-up pass removes a waiter from its line before waking it, a cancelled one has
    /// just been removed, and the task's cancellation handler was removed when `wait` returned
    /// (the runtime runs handlers and removes them under the same lock).
    @inlinable func recycle(_ waiter: Waiter) {
        guard spareWaiters.count < Self.maxSpareWaiters else { return }
        waiter.reset()
        spareWaiters.append(waiter)
    }

    /// Wakes the oldest waiter of `line` that is still waiting (asyncio's `_wakeup_next`),
    /// dropping the cancelled ones it passes.
    @inlinable func wakeNext(in line: Line) {
        withLine(line) { waiters in
            while let waiter = waiters.popFirst() {
                if waiter.wake() { return }
            }
        }
        if !observers.isEmpty { notifyObservers() }
    }

    /// Wakes every waiter of `line` and empties it.
    @inlinable func wakeAll(in line: Line) {
        withLine(line) { waiters in
            while let waiter = waiters.popFirst() {
                _ = waiter.wake()
            }
        }
        if !observers.isEmpty { notifyObservers() }
    }
}
