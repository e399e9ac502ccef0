import AsyncQueues
import Testing

/// CPython `QueueBasicTests` (test_queues.py) and the construction/introspection items of
/// ASYNCIO-QUEUE-SEMANTICS.md §1.
@Suite("QueueBasicTests", .timeLimit(.minutes(1)))
struct QueueBasicTests {
    /// test_repr: the debug description carries the queue's identity; the state description
    /// shows waiting getters, putters and items.
    @Test func test_repr() async throws {
        let q = AsyncQueue<Int>()
        #expect(q.debugDescription.hasPrefix("AsyncQueue<Int>"))
        #expect(q.debugDescription.contains(ObjectIdentifier(q).debugDescription))
        try await expectStateDescriptionFragments()
    }

    /// test_str: the plain description does not carry the identity; the state description
    /// shows getters, putters and items.
    @Test func test_str() async throws {
        let q = AsyncQueue<Int>()
        #expect(q.description == "AsyncQueue<Int>(maxsize=0)")
        #expect(!q.description.contains(ObjectIdentifier(q).debugDescription))
        try await expectStateDescriptionFragments()
    }

    private func expectStateDescriptionFragments() async throws {
        let getterQueue = AsyncQueue<Int>()
        let getter = Task { try await getterQueue.get() }
        await getterQueue.untilWaiting(getters: 1)
        #expect(await getterQueue.stateDescription.contains("getters[1]"))
        try await getterQueue.putNowait(0)
        #expect(try await getter.value == 0)

        let putterQueue = AsyncQueue<Int>(maxsize: 1)
        try await putterQueue.putNowait(1)
        let putter = Task { try await putterQueue.put(2) }
        await putterQueue.untilWaiting(putters: 1)
        #expect(await putterQueue.stateDescription.contains("putters[1]"))
        _ = try await putterQueue.getNowait()
        try await putter.value

        let itemQueue = AsyncQueue<Int>()
        try await itemQueue.putNowait(1)
        #expect(await itemQueue.stateDescription.contains("items=[1]"))
    }

    /// test_generic_alias: the queue is generic over its element type.
    @Test func test_generic_alias() {
        #expect(ObjectIdentifier(AsyncQueue<Int>.self) != ObjectIdentifier(AsyncQueue<String>.self))
        let q: AsyncQueue<[String: Int]> = AsyncQueue()
        #expect(q.maxsize == 0)
    }

    @Test func test_empty() async throws {
        let q = AsyncQueue<Int>()
        #expect(await q.isEmpty)
        try await q.put(1)
        #expect(await !q.isEmpty)
        #expect(try await q.get() == 1)
        #expect(await q.isEmpty)
    }

    @Test func test_full() async throws {
        let unbounded = AsyncQueue<Int>()
        #expect(await !unbounded.isFull)
        let q = AsyncQueue<Int>(maxsize: 1)
        try await q.put(1)
        #expect(await q.isFull)
    }

    @Test func test_order() async throws {
        let q = AsyncQueue<Int>()
        for i in [1, 3, 2] { try await q.put(i) }
        var items: [Int] = []
        for _ in 0..<3 { items.append(try await q.get()) }
        #expect(items == [1, 3, 2])
    }

    /// test_maxsize: a putter of three items into maxsize 2 stops after two, and resumes when
    /// one is taken.
    @Test func test_maxsize() async throws {
        let q = AsyncQueue<Int>(maxsize: 2)
        #expect(q.maxsize == 2)
        let havePut = Log<Int>()
        let putter = Task {
            for i in 0..<3 {
                try await q.put(i)
                havePut.append(i)
            }
            return true
        }
        await q.untilWaiting(putters: 1)
        #expect(havePut.all == [0, 1])
        #expect(try await q.get() == 0)
        #expect(try await putter.value)
        #expect(havePut.all == [0, 1, 2])
        #expect(try await q.get() == 1)
        #expect(try await q.get() == 2)
    }

    /// Probe: maxsize 0 or negative means unbounded; `isFull` is never true then.
    @Test(arguments: [0, -1, -100])
    func probe_nonPositiveMaxsizeIsUnbounded(maxsize: Int) async throws {
        let q = AsyncQueue<Int>(maxsize: maxsize)
        for i in 0..<1_000 { try await q.putNowait(i) }
        #expect(await !q.isFull)
        #expect(await q.count == 1_000)
    }

    /// Probe: `maxsize` is a read-only property, fixed at construction (a `let`: assigning it
    /// does not compile), readable without awaiting.
    @Test func probe_maxsizeIsReadOnly() {
        let q = AsyncQueue<Int>(maxsize: 7)
        #expect(q.maxsize == 7)
    }

    /// test_float_maxsize's rule in integers: full means `count >= maxsize`.
    @Test func probe_fullIsCountAtLeastMaxsize() async throws {
        let q = AsyncQueue<Int>(maxsize: 2)
        try await q.putNowait(1)
        #expect(await !q.isFull)
        try await q.putNowait(2)
        #expect(await q.isFull)
        await #expect(throws: AsyncQueueError.full) { try await q.putNowait(3) }
    }

    /// Probe: `count` counts items stored, not items taken and still unfinished; `isEmpty`
    /// is `count == 0`.
    @Test func probe_countExcludesInFlightItems() async throws {
        let q = AsyncQueue<Int>()
        try await q.putNowait(1)
        try await q.putNowait(2)
        _ = try await q.get()
        #expect(await q.count == 1)
        #expect(await q.unfinishedTasks == 2)
        _ = try await q.get()
        #expect(await q.count == 0)
        #expect(await q.isEmpty)
        #expect(await q.unfinishedTasks == 2)
    }

    /// Loop binding (`_LoopBoundMixin`): the queue is an actor, usable from any task and any
    /// thread; tasks on different executors share it safely.
    @Test func probe_actorIsolationReplacesLoopBinding() async throws {
        let q = AsyncQueue<Int>()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for i in 0..<500 { try await q.put(worker * 1_000 + i) }
                }
            }
            try await group.waitForAll()
        }
        #expect(await q.count == 4_000)
    }
}
