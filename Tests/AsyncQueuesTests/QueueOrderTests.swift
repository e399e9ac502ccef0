import AsyncQueues
import JobQueueTesting
import Testing

/// CPython `LifoQueueTests` and `PriorityQueueTests`, and the ordering items of
/// ASYNCIO-QUEUE-SEMANTICS.md §1 (subclass hooks).
@Suite("OrderingTests", .timeLimit(.minutes(1)))
struct OrderingTests {
    /// LifoQueueTests.test_order
    @Test func lifo_test_order() async throws {
        let q = AsyncQueue<Int>(ordering: .lifo)
        for i in [1, 3, 2] { try await q.put(i) }
        var items: [Int] = []
        for _ in 0..<3 { items.append(try await q.get()) }
        #expect(items == [2, 3, 1])
    }

    /// PriorityQueueTests.test_order
    @Test func priority_test_order() async throws {
        let q = AsyncQueue<Int>(ordering: .priority)
        for i in [1, 3, 2] { try await q.put(i) }
        var items: [Int] = []
        for _ in 0..<3 { items.append(try await q.get()) }
        #expect(items == [1, 2, 3])
    }

    /// Probe: PriorityQueue is a binary heap, smallest first, over many items.
    @Test func probe_priorityHeapSmallestFirst() async throws {
        let q = AsyncQueue<Int>(ordering: .priority)
        var generator = SplitMix64(seed: 42)
        let values = (0..<1_000).map { _ in Int(generator.next() % 10_000) }
        for value in values { try await q.putNowait(value) }
        var out: [Int] = []
        while let value = try? await q.getNowait() { out.append(value) }
        #expect(out == values.sorted())
    }

    /// Probe (deliberate refinement): CPython raises TypeError for equal priorities whose
    /// payloads cannot be compared; Swift's ordering is total by construction, and equal items
    /// come out in the order they were put.
    @Test func probe_priorityTiesKeepInsertionOrder() async throws {
        struct Job: Sendable, Equatable { let priority: Int; let name: String }
        let q = AsyncQueue<Job>(ordering: .priority(by: { $0.priority > $1.priority }))  // highest first
        for (priority, name) in [(1, "a"), (5, "b"), (1, "c"), (5, "d"), (3, "e")] {
            try await q.putNowait(Job(priority: priority, name: name))
        }
        var names: [String] = []
        while let job = try? await q.getNowait() { names.append(job.name) }
        #expect(names == ["b", "d", "e", "a", "c"])
    }

    /// The state description lists items in the order they would be taken.
    @Test(arguments: [(Kind.fifo, "[1, 3, 2]"), (Kind.lifo, "[2, 3, 1]"), (Kind.priority, "[1, 2, 3]")])
    func stateDescriptionListsItemsInTakingOrder(kind: Kind, expected: String) async throws {
        let q = kind.make(Int.self)
        for i in [1, 3, 2] { try await q.putNowait(i) }
        #expect(await q.stateDescription == "maxsize=0 items=\(expected) tasks=3")
    }
}

