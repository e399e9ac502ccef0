import AsyncQueues
import Testing

/// CPython `_QueueShutdownTestMixin`, run for Queue, LifoQueue and PriorityQueue
/// (QueueShutdownTests, LifoQueueShutdownTests, PriorityQueueShutdownTests), and the shutdown
/// items of ASYNCIO-QUEUE-SEMANTICS.md §5.
@Suite("QueueShutdownTests", .timeLimit(.minutes(1)))
struct QueueShutdownTests {
    /// test_format (shutdown mixin)
    @Test(arguments: Kind.allCases)
    func test_format(kind: Kind) async {
        let q = kind.make(Int.self)
        await q.shutdown()
        #expect(await q.stateDescription == "maxsize=0 shutdown")
    }

    @Test(arguments: Kind.allCases)
    func test_shutdown_empty(kind: Kind) async throws {
        let q = kind.make(String.self)
        let getter = Task { try await q.get() }
        await q.untilWaiting(getters: 1)

        await q.shutdown(immediate: false)
        #expect(await q.count == 0)
        try await q.join()
        await expectShutDown { _ = try await getter.value }

        await expectShutDown { try await q.put("data") }
        await expectShutDown { try await q.putNowait("data") }
        await expectShutDown { _ = try await q.get() }
        await expectShutDown { _ = try await q.getNowait() }
    }

    @Test(arguments: Kind.allCases)
    func test_shutdown_nonempty(kind: Kind) async throws {
        let q = kind.make(String.self, maxsize: 1)
        try await q.putNowait("data")
        let joiner = Task { try await q.join() }
        await q.untilWaiting(joiners: 1)
        let putter = Task { try await q.put("data2") }
        await q.untilWaiting(putters: 1)

        await q.shutdown(immediate: false)
        #expect(await q.count == 1)
        await expectShutDown { try await putter.value }
        #expect(try await q.get() == "data")
        #expect(await q.waitingJoiners == 1)   // the joiner still waits

        await expectShutDown { try await q.put("data") }
        await expectShutDown { try await q.putNowait("data") }
        await expectShutDown { _ = try await q.get() }
        await expectShutDown { _ = try await q.getNowait() }

        try await q.taskDone()
        try await joiner.value
        await #expect(throws: AsyncQueueError.taskDoneCalledTooManyTimes) { try await q.taskDone() }
    }

    @Test(arguments: Kind.allCases)
    func test_shutdown_immediate(kind: Kind) async throws {
        let q = kind.make(String.self)
        try await q.putNowait("data")
        let joiner = Task { try await q.join() }
        await q.untilWaiting(joiners: 1)

        let removed = await q.shutdown(immediate: true)
        #expect(removed == ["data"])
        #expect(await q.count == 0)
        try await joiner.value

        await expectShutDown { try await q.put("data") }
        await expectShutDown { try await q.putNowait("data") }
        await expectShutDown { _ = try await q.get() }
        await expectShutDown { _ = try await q.getNowait() }
        await #expect(throws: AsyncQueueError.taskDoneCalledTooManyTimes) { try await q.taskDone() }
    }

    @Test(arguments: Kind.allCases)
    func test_shutdown_immediate_with_unfinished(kind: Kind) async throws {
        let q = kind.make(String.self)
        try await q.putNowait("data")
        try await q.putNowait("data")
        let joiner = Task { try await q.join() }
        await q.untilWaiting(joiners: 1)
        #expect(try await q.get() == "data")

        await q.shutdown(immediate: true)
        #expect(await q.count == 0)
        #expect(await q.waitingJoiners == 1)   // one item taken and not done

        await expectShutDown { try await q.put("data") }
        await expectShutDown { try await q.putNowait("data") }
        await expectShutDown { _ = try await q.get() }
        await expectShutDown { _ = try await q.getNowait() }

        try await q.taskDone()
        await #expect(throws: AsyncQueueError.taskDoneCalledTooManyTimes) { try await q.taskDone() }
        try await joiner.value
    }

    /// Probe: shutdown is idempotent and may be upgraded from normal to immediate; the upgrade
    /// drains what the normal one left.
    @Test(arguments: Kind.allCases)
    func probe_shutdownIdempotentAndUpgradable(kind: Kind) async throws {
        let q = kind.make(Int.self)
        try await q.putNowait(1)
        try await q.putNowait(2)
        #expect(await q.shutdown().isEmpty)
        #expect(await q.shutdown().isEmpty)
        #expect(await q.count == 2)
        #expect(await q.unfinishedTasks == 2)
        let removed = await q.shutdown(immediate: true)
        #expect(removed.sorted() == [1, 2])
        #expect(await q.unfinishedTasks == 0)
        #expect(await q.shutdown(immediate: true).isEmpty)
        #expect(await q.isShutDown)
    }

    /// Probe: shutdown wakes every waiting getter and putter, each of which then throws shutDown.
    @Test func probe_shutdownWakesAllWaiters() async throws {
        let getterQueue = AsyncQueue<Int>()
        var getters: [Task<Int, any Error>] = []
        for n in 1...3 {
            getters.append(Task { try await getterQueue.get() })
            await getterQueue.untilWaiting(getters: n)
        }
        await getterQueue.shutdown()
        for getter in getters { await expectShutDown { _ = try await getter.value } }

        let putterQueue = AsyncQueue<Int>(maxsize: 1)
        try await putterQueue.putNowait(0)
        var putters: [Task<Void, any Error>] = []
        for n in 1...3 {
            putters.append(Task { try await putterQueue.put(n) })
            await putterQueue.untilWaiting(putters: n)
        }
        await putterQueue.shutdown()
        for putter in putters { await expectShutDown { try await putter.value } }
        #expect(await putterQueue.count == 1)
    }

    /// Probe: `shutdown` never throws (its signature has no `throws`), and `unfinishedTasks`
    /// never goes below zero when an immediate shutdown drains items already marked done.
    @Test func probe_shutdownNeverThrowsNorUnderflows() async throws {
        let q = AsyncQueue<Int>()
        try await q.putNowait(1)
        try await q.putNowait(2)
        try await q.taskDone()
        try await q.taskDone()
        let removed: [Int] = await q.shutdown(immediate: true)
        #expect(removed == [1, 2])
        #expect(await q.unfinishedTasks == 0)
    }

    /// Probe: iteration with `for try await` drains the remaining items after a shutdown and
    /// then ends cleanly.
    @Test(arguments: Kind.allCases)
    func probe_asyncSequenceEndsAtShutdown(kind: Kind) async throws {
        let q = kind.make(Int.self)
        for i in [3, 1, 2] { try await q.putNowait(i) }
        let consumer = Task {
            var seen: [Int] = []
            for try await item in q { seen.append(item) }
            return seen
        }
        await q.untilWaiting(getters: 1)
        await q.shutdown()
        let seen = try await consumer.value
        #expect(seen.sorted() == [1, 2, 3])
        switch kind {
        case .fifo: #expect(seen == [3, 1, 2])
        case .lifo: #expect(seen == [2, 1, 3])
        case .priority: #expect(seen == [1, 2, 3])
        }
    }

    /// Probe: an iterating task that is cancelled while waiting throws CancellationError.
    @Test func probe_asyncSequenceCancellation() async throws {
        let q = AsyncQueue<Int>()
        let consumer = Task {
            for try await _ in q {}
        }
        await q.untilWaiting(getters: 1)
        consumer.cancel()
        await #expect(throws: CancellationError.self) { try await consumer.value }
        #expect(await q.waitingGetters == 0)
    }
}
