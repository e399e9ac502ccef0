import AsyncQueues
import Testing

/// CPython `_QueueJoinTestMixin`, run for Queue, LifoQueue and PriorityQueue
/// (QueueJoinTests, LifoQueueJoinTests, PriorityQueueJoinTests), and the task_done/join items
/// of ASYNCIO-QUEUE-SEMANTICS.md §4.
@Suite("QueueJoinTests", .timeLimit(.minutes(1)))
struct QueueJoinTests {
    @Test(arguments: Kind.allCases)
    func test_task_done_underflow(kind: Kind) async {
        let q = kind.make(Int.self)
        await #expect(throws: AsyncQueueError.taskDoneCalledTooManyTimes) { try await q.taskDone() }
        #expect(await q.unfinishedTasks == 0)
    }

    /// test_task_done: two workers take 100 items and mark each done; join returns only once
    /// all 100 are done, with every item accounted for.
    @Test(arguments: Kind.allCases)
    func test_task_done(kind: Kind) async throws {
        let q = kind.make(Int.self)
        for i in 0..<100 { try await q.putNowait(i) }
        let done = Log<Int>()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    for try await item in q {
                        done.append(item)
                        try await q.taskDone()
                    }
                }
            }
            try await q.join()
            #expect(done.all.reduce(0, +) == (0..<100).reduce(0, +))
            #expect(done.all.count == 100)
            await q.shutdown()   // ends the workers (CPython puts sentinels instead)
            try await group.waitForAll()
        }
    }

    @Test(arguments: Kind.allCases)
    func test_join_empty_queue(kind: Kind) async throws {
        let q = kind.make(Int.self)
        try await q.join()
        try await q.join()
    }

    /// test_format (join mixin): `maxsize=0`, then ` tasks=2` with two unfinished items.
    @Test(arguments: Kind.allCases)
    func test_format(kind: Kind) async throws {
        let q = kind.make(Int.self)
        #expect(await q.stateDescription == "maxsize=0")
        try await q.putNowait(1)
        try await q.putNowait(2)
        _ = try await q.getNowait()
        _ = try await q.getNowait()
        #expect(await q.stateDescription == "maxsize=0 tasks=2")
    }

    /// Probe: taskDone is not tied to a prior get; it may be called for an item still queued.
    @Test func probe_taskDoneNotTiedToGet() async throws {
        let q = AsyncQueue<Int>()
        try await q.putNowait(1)
        try await q.taskDone()
        #expect(await q.unfinishedTasks == 0)
        #expect(await q.count == 1)
        try await q.join()   // returns: nothing unfinished, though an item is still queued
    }

    /// Probe: items taken but not yet marked done keep join waiting.
    @Test func probe_joinWaitsForTakenItems() async throws {
        let q = AsyncQueue<Int>()
        try await q.putNowait(1)
        _ = try await q.getNowait()
        let joiner = Task { try await q.join() }
        await q.untilWaiting(joiners: 1)
        #expect(await q.waitingJoiners == 1)
        try await q.taskDone()
        try await joiner.value
    }

    /// Probe (Event semantics): once the count reaches zero every waiting joiner completes,
    /// even if a new put raises it again before the joiner runs.
    @Test func probe_joinCompletesAfterZeroEvenIfPutFollows() async throws {
        let q = AsyncQueue<Int>()
        try await q.putNowait(1)
        let joiner1 = Task { try await q.join() }
        await q.untilWaiting(joiners: 1)
        let joiner2 = Task { try await q.join() }
        await q.untilWaiting(joiners: 2)
        try await q.atomically { q in
            try q.taskDone()       // count 1 -> 0: both joiners woken
            try q.putNowait(2)     // count 0 -> 1 before they run
        }
        try await joiner1.value
        try await joiner2.value
        #expect(await q.unfinishedTasks == 1)
    }

    /// Probe: a waiting join is cancellable, and cancelling it changes no counter.
    @Test func probe_joinIsCancellable() async throws {
        let q = AsyncQueue<Int>()
        try await q.putNowait(1)
        let joiner = Task { try await q.join() }
        await q.untilWaiting(joiners: 1)
        joiner.cancel()
        await expectCancelled(joiner)
        #expect(await q.waitingJoiners == 0)
        #expect(await q.unfinishedTasks == 1)
        #expect(await q.count == 1)
    }
}
