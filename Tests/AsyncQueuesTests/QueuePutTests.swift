import AsyncQueues
import Testing

/// CPython `QueuePutTests` (test_queues.py) and the put items of ASYNCIO-QUEUE-SEMANTICS.md §2.
@Suite("QueuePutTests", .timeLimit(.minutes(1)))
struct QueuePutTests {
    /// test_blocking_put: an unbounded put never waits.
    @Test func test_blocking_put() async throws {
        let q = AsyncQueue<Int>()
        try await q.put(1)
        #expect(try await q.get() == 1)
    }

    /// test_blocking_put_wait: the second put into maxsize 1 waits until a get frees the slot.
    @Test func test_blocking_put_wait() async throws {
        let q = AsyncQueue<Int>(maxsize: 1)
        let finished = Log<Bool>()
        let putter = Task {
            try await q.put(1)
            try await q.put(2)
            finished.append(true)
        }
        await q.untilWaiting(putters: 1)
        #expect(finished.all.isEmpty)
        #expect(try await q.getNowait() == 1)
        try await putter.value
        #expect(finished.all == [true])
    }

    @Test func test_nonblocking_put() async throws {
        let q = AsyncQueue<Int>()
        try await q.putNowait(1)
        #expect(try await q.getNowait() == 1)
    }

    /// test_get_cancel_drop_one_pending_reader: a reader woken by a put and then cancelled
    /// before it runs leaves the item in the queue: the next get returns 1, not 2.
    @Test func test_get_cancel_drop_one_pending_reader() async throws {
        let q = AsyncQueue<Int>()
        let reader = Task { try await q.get() }
        await q.untilWaiting(getters: 1)
        try await q.atomically { q in
            try q.putNowait(1)    // wakes the reader
            try q.putNowait(2)
            reader.cancel()       // before the reader could run
        }
        await expectCancelled(reader)
        #expect(try await q.get() == 1)
        #expect(try await q.get() == 2)
    }

    /// test_get_cancel_drop_many_pending_readers: a woken-then-cancelled reader passes its
    /// wake-up on, so the other readers receive both items.
    @Test func test_get_cancel_drop_many_pending_readers() async throws {
        let q = AsyncQueue<Int>()
        let reader1 = Task { try await q.get() }
        await q.untilWaiting(getters: 1)
        let reader2 = Task { try await q.get() }
        await q.untilWaiting(getters: 2)
        let reader3 = Task { try await q.get() }
        await q.untilWaiting(getters: 3)
        try await q.atomically { q in
            try q.putNowait(1)    // wakes reader1
            try q.putNowait(2)    // wakes reader2
            reader1.cancel()      // reader1 must pass its wake-up to reader3
        }
        await expectCancelled(reader1)
        let received: Set = [try await reader2.value, try await reader3.value]
        #expect(received == [1, 2])
    }

    /// test_put_cancel_drop: a putter woken by a get and then cancelled inserts nothing; put
    /// again, the item arrives exactly once.
    @Test func test_put_cancel_drop() async throws {
        let q = AsyncQueue<Int>(maxsize: 1)
        try await q.putNowait(1)
        let writer = Task { try await q.put(2) }
        await q.untilWaiting(putters: 1)
        let value1 = try await q.atomically { q in
            let value = try q.getNowait()   // wakes the writer
            writer.cancel()                 // before it could run
            return value
        }
        #expect(value1 == 1)
        await expectCancelled(writer)
        #expect(await q.isEmpty)
        try await q.put(2)
        #expect(try await q.getNowait() == 2)
        #expect(await q.count == 0)
    }

    @Test func test_nonblocking_put_exception() async throws {
        let q = AsyncQueue<Int>(maxsize: 1)
        try await q.putNowait(1)
        await #expect(throws: AsyncQueueError.full) { try await q.putNowait(2) }
    }

    /// test_float_maxsize: Swift's maxsize is an Int, so the fractional case becomes its rule:
    /// full means `count >= maxsize`, for putNowait and put alike.
    @Test func test_float_maxsize() async throws {
        let q = AsyncQueue<Int>(maxsize: 2)
        try await q.putNowait(1)
        try await q.putNowait(2)
        #expect(await q.isFull)
        await #expect(throws: AsyncQueueError.full) { try await q.putNowait(3) }

        let q2 = AsyncQueue<Int>(maxsize: 2)
        try await q2.put(1)
        try await q2.put(2)
        #expect(await q2.isFull)
    }

    /// test_put_cancelled: a put in another task completes and its item is received.
    @Test func test_put_cancelled() async throws {
        let q = AsyncQueue<Int>()
        let putter = Task {
            try await q.put(1)
            return true
        }
        #expect(try await q.get() == 1)
        #expect(try await putter.value)
    }

    /// test_put_cancelled_race: cancelling a waiting putter does not let its item in, and the
    /// other putter's item still follows.
    @Test func test_put_cancelled_race() async throws {
        let q = AsyncQueue<String>(maxsize: 1)
        let putA = Task { try await q.put("a") }
        try await putA.value
        let putB = Task { try await q.put("b") }
        await q.untilWaiting(putters: 1)
        let putC = Task { try await q.put("X") }
        await q.untilWaiting(putters: 2)
        putC.cancel()
        await expectCancelled(putC)
        #expect(try await q.getNowait() == "a")
        try await putB.value
        #expect(try await q.getNowait() == "b")
        #expect(await q.isEmpty)
    }

    @Test func test_put_with_waiting_getters() async throws {
        let q = AsyncQueue<String>()
        let getter = Task { try await q.get() }
        await q.untilWaiting(getters: 1)
        try await q.put("a")
        #expect(try await getter.value == "a")
    }

    /// test_why_are_putters_waiting: four putters into maxsize 2 and a getter that drains what
    /// is there never deadlock.
    @Test func test_why_are_putters_waiting() async throws {
        let q = AsyncQueue<Int>(maxsize: 2)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for item in 0..<4 {
                group.addTask { try await q.put(item) }
            }
            group.addTask {
                await q.untilWaiting(putters: 2)
                try await q.atomically { q in
                    for _ in 0..<q.count { _ = try q.getNowait() }
                }
            }
            try await group.waitForAll()
        }
        #expect(await q.count == 2)
    }

    /// test_cancelled_puts_not_being_held_in_self_putters
    @Test func test_cancelled_puts_not_being_held_in_self_putters() async throws {
        let q = AsyncQueue<Int>(maxsize: 1)
        try await q.putNowait(1)
        let putter = Task { try await q.put(1) }
        await q.untilWaiting(putters: 1)
        #expect(await q.waitingPutters == 1)
        putter.cancel()
        await expectCancelled(putter)
        #expect(await q.waitingPutters == 0)
    }

    /// test_cancelled_put_silence_value_error_exception: a putter already removed from the
    /// line by a get, then cancelled, ends with CancellationError and nothing else.
    @Test func test_cancelled_put_silence_value_error_exception() async throws {
        let q = AsyncQueue<Int>(maxsize: 1)
        try await q.putNowait(1)
        let putter = Task { try await q.put(1) }
        await q.untilWaiting(putters: 1)
        try await q.atomically { q in
            _ = try q.getNowait()   // removes the putter from the line and wakes it
            putter.cancel()
        }
        await expectCancelled(putter)
        #expect(await q.waitingPutters == 0)
        #expect(await q.isEmpty)
    }

    /// Probe: putNowait on a shut-down queue throws shutDown even when it is also full
    /// (shutdown is checked before fullness).
    @Test func probe_putNowaitChecksShutdownBeforeFull() async throws {
        let q = AsyncQueue<Int>(maxsize: 1)
        try await q.putNowait(1)
        await q.shutdown()
        await #expect(throws: AsyncQueueError.shutDown) { try await q.putNowait(2) }
    }

    /// Probe: each successful put increments unfinishedTasks and wakes one getter.
    @Test func probe_putCountsUnfinished() async throws {
        let q = AsyncQueue<Int>()
        try await q.putNowait(1)
        try await q.put(2)
        #expect(await q.unfinishedTasks == 2)
    }

    /// Probe: waiting putters are served in FIFO order.
    @Test func probe_waitingPuttersServedInOrder() async throws {
        let q = AsyncQueue<String>(maxsize: 1)
        try await q.putNowait("first")
        var putters: [Task<Void, any Error>] = []
        for (n, item) in ["a", "b", "c"].enumerated() {
            putters.append(Task { try await q.put(item) })
            await q.untilWaiting(putters: n + 1)
        }
        var received: [String] = []
        for _ in 0..<4 { received.append(try await q.get()) }
        #expect(received == ["first", "a", "b", "c"])
        for putter in putters { try await putter.value }
    }

    /// Probe (no hand-off): a putter woken by a get re-checks fullness when it runs; a
    /// `putNowait` in between takes the slot and the woken putter waits again.
    @Test func probe_putNoHandOff() async throws {
        let q = AsyncQueue<Int>(maxsize: 1)
        try await q.putNowait(1)
        let putter = Task { try await q.put(2) }
        await q.untilWaiting(putters: 1)
        try await q.atomically { q in
            _ = try q.getNowait()   // frees the slot, wakes the putter…
            try q.putNowait(3)      // …but this call takes the slot first
        }
        await q.untilWaiting(putters: 1)   // the woken putter found the queue full again
        #expect(try await q.getNowait() == 3)
        try await putter.value
        #expect(try await q.getNowait() == 2)
    }

    /// Probe: a putter whose task is cancelled before it starts waiting throws at once and
    /// never joins the line.
    @Test func probe_putCancelledBeforeWaiting() async throws {
        let q = AsyncQueue<Int>(maxsize: 1)
        try await q.putNowait(0)
        let gate = AsyncQueue<Void>()
        let putter = Task {
            _ = try? await gate.get()
            try await q.put(1)
        }
        await gate.untilWaiting(getters: 1)
        putter.cancel()
        await expectCancelled(putter)
        #expect(await q.waitingPutters == 0)
        #expect(await q.count == 1)
    }
}
