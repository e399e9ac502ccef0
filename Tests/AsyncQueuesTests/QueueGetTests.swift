import AsyncQueues
import Testing

/// CPython `QueueGetTests` (test_queues.py) and the get items of ASYNCIO-QUEUE-SEMANTICS.md §3.
@Suite("QueueGetTests", .timeLimit(.minutes(1)))
struct QueueGetTests {
    @Test func test_blocking_get() async throws {
        let q = AsyncQueue<Int>()
        try await q.putNowait(1)
        #expect(try await q.get() == 1)
    }

    /// test_get_with_putters: a get from a full queue wakes the waiting putter.
    @Test func test_get_with_putters() async throws {
        let q = AsyncQueue<Int>(maxsize: 1)
        try await q.put(1)
        let putter = Task { try await q.put(2) }
        await q.untilWaiting(putters: 1)
        #expect(try await q.get() == 1)
        try await putter.value
        #expect(try await q.getNowait() == 2)
    }

    /// test_blocking_get_wait: a get on an empty queue waits until an item is put.
    @Test func test_blocking_get_wait() async throws {
        let q = AsyncQueue<Int>()
        let finished = Log<Bool>()
        let getter = Task {
            let item = try await q.get()
            finished.append(true)
            return item
        }
        await q.untilWaiting(getters: 1)
        #expect(finished.all.isEmpty)
        try await q.putNowait(1)
        #expect(try await getter.value == 1)
        #expect(finished.all == [true])
    }

    @Test func test_nonblocking_get() async throws {
        let q = AsyncQueue<Int>()
        try await q.putNowait(1)
        #expect(try await q.getNowait() == 1)
    }

    @Test func test_nonblocking_get_exception() async {
        let q = AsyncQueue<Int>()
        await #expect(throws: AsyncQueueError.empty) { try await q.getNowait() }
    }

    /// test_get_cancelled_race: a cancelled getter does not take the item meant for the next.
    @Test func test_get_cancelled_race() async throws {
        let q = AsyncQueue<String>()
        let t1 = Task { try await q.get() }
        await q.untilWaiting(getters: 1)
        let t2 = Task { try await q.get() }
        await q.untilWaiting(getters: 2)
        t1.cancel()
        await expectCancelled(t1)
        try await q.put("a")
        #expect(try await t2.value == "a")
    }

    /// test_get_with_waiting_putters: putters waiting on a full queue are served in order.
    @Test func test_get_with_waiting_putters() async throws {
        let q = AsyncQueue<String>(maxsize: 1)
        let a = Task { try await q.put("a") }
        try await a.value
        let b = Task { try await q.put("b") }
        await q.untilWaiting(putters: 1)
        #expect(try await q.get() == "a")
        #expect(try await q.get() == "b")
        try await b.value
    }

    /// test_why_are_getters_waiting: a bounded producer and consumer never deadlock.
    @Test func test_why_are_getters_waiting() async throws {
        let q = AsyncQueue<Int>(maxsize: 1)
        let items = 5
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { for i in 0..<items { try await q.put(i) } }
            group.addTask { for _ in 0..<items { _ = try await q.get() } }
            try await group.waitForAll()
        }
        #expect(await q.isEmpty)
    }

    /// test_cancelled_getters_not_being_held_in_self_getters: a getter whose wait is cut short
    /// (asyncio's `wait_for` timeout is a cancellation in Swift) leaves the getters line.
    @Test func test_cancelled_getters_not_being_held_in_self_getters() async throws {
        let q = AsyncQueue<Int>(maxsize: 5)
        let getter = Task { try await q.get() }
        await q.untilWaiting(getters: 1)
        getter.cancel()
        await expectCancelled(getter)
        #expect(await q.waitingGetters == 0)
    }

    /// Probe: waiting getters are served in FIFO order: three getters receive a, b, c.
    @Test func probe_waitingGettersServedInOrder() async throws {
        let q = AsyncQueue<String>()
        var getters: [Task<String, any Error>] = []
        for n in 1...3 {
            getters.append(Task { try await q.get() })
            await q.untilWaiting(getters: n)
        }
        for item in ["a", "b", "c"] { try await q.putNowait(item) }
        var received: [String] = []
        for getter in getters { received.append(try await getter.value) }
        #expect(received == ["a", "b", "c"])
    }

    /// Probe: each put wakes exactly one getter, the oldest still waiting.
    @Test func probe_putWakesOneGetter() async throws {
        let q = AsyncQueue<Int>()
        let first = Task { try await q.get() }
        await q.untilWaiting(getters: 1)
        let second = Task { try await q.get() }
        await q.untilWaiting(getters: 2)
        try await q.putNowait(1)
        #expect(await q.waitingGetters == 1)
        #expect(try await first.value == 1)
        #expect(await q.waitingGetters == 1)
        second.cancel()
        await expectCancelled(second)
    }

    /// Probe (no hand-off): a getter woken by a put re-checks the queue when it runs; a
    /// `getNowait` in between takes the item and the woken getter keeps waiting.
    @Test func probe_getNoHandOff() async throws {
        let q = AsyncQueue<Int>()
        let getter = Task { try await q.get() }
        await q.untilWaiting(getters: 1)
        let stolen = try await q.atomically { q in
            try q.putNowait(1)        // wakes the getter…
            return try q.getNowait()  // …but this call runs first and takes the item
        }
        #expect(stolen == 1)
        await q.untilWaiting(getters: 1)  // the woken getter found nothing and waits again
        try await q.putNowait(2)
        #expect(try await getter.value == 2)
    }

    /// Probe: `getNowait` removes an item but leaves `unfinishedTasks` alone, and wakes one putter.
    @Test func probe_getNowaitLeavesUnfinishedAndWakesOnePutter() async throws {
        let q = AsyncQueue<Int>(maxsize: 1)
        try await q.putNowait(0)
        let p1 = Task { try await q.put(1) }
        await q.untilWaiting(putters: 1)
        let p2 = Task { try await q.put(2) }
        await q.untilWaiting(putters: 2)
        #expect(try await q.getNowait() == 0)
        #expect(await q.unfinishedTasks == 1)
        try await p1.value
        #expect(await q.waitingPutters == 1)
        #expect(try await q.getNowait() == 1)
        try await p2.value
        #expect(try await q.getNowait() == 2)
        #expect(await q.unfinishedTasks == 3)
    }

    /// Probe: a getter whose task is cancelled before it starts waiting throws at once and
    /// never joins the line (cancellation before registration).
    @Test func probe_getCancelledBeforeWaiting() async throws {
        let q = AsyncQueue<Int>()
        let gate = AsyncQueue<Void>()
        let getter = Task {
            _ = try? await gate.get()      // parks until the test cancels this task
            return try await q.get()       // the task is already cancelled here
        }
        await gate.untilWaiting(getters: 1)
        getter.cancel()
        await expectCancelled(getter)
        #expect(await q.waitingGetters == 0)
        try await q.putNowait(1)
        #expect(try await q.getNowait() == 1)
    }

    /// Probe: a cancelled task still gets an item that is already there (get does not suspend).
    @Test func probe_getWithItemDoesNotSuspend() async throws {
        let q = AsyncQueue<Int>()
        try await q.putNowait(5)
        let gate = AsyncQueue<Void>()
        let getter = Task {
            _ = try? await gate.get()
            return try await q.get()
        }
        await gate.untilWaiting(getters: 1)
        getter.cancel()
        #expect(try await getter.value == 5)
    }
}
