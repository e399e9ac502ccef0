import AsyncQueues
import JobQueueTesting
import Testing

/// Several producers and consumers, bounded and unbounded, with cancellations at random
/// (seeded, so each run is reproducible) moments: every item that a put acknowledged is
/// delivered exactly once, no cancelled put inserts its item, and `join` returns only after
/// the last `taskDone`.
@Suite("StressTests", .timeLimit(.minutes(1)))
struct StressTests {
    /// What producers acknowledged and what consumers received. An actor rather than a
    /// Mutex-guarded class: ThreadSanitizer does not see Synchronization.Mutex's lock on Linux
    /// (the library is not instrumented) and reported its accesses as races.
    actor Ledger {
        private(set) var put: Set<Int> = []
        private(set) var received: [Int] = []
        private(set) var done = 0

        func recordPut(_ item: Int) { put.insert(item) }
        func recordReceived(_ item: Int) {
            received.append(item)
            done += 1
        }
    }

    struct Scenario: Sendable, CustomTestStringConvertible {
        var maxsize: Int
        var producers: Int
        var consumers: Int
        var seed: UInt64
        var testDescription: String { "maxsize=\(maxsize) \(producers)p/\(consumers)c seed=\(seed)" }
    }

    @Test(arguments: [
        Scenario(maxsize: 0, producers: 4, consumers: 4, seed: 1),
        Scenario(maxsize: 1, producers: 4, consumers: 4, seed: 2),
        Scenario(maxsize: 3, producers: 6, consumers: 2, seed: 3),
        Scenario(maxsize: 16, producers: 2, consumers: 6, seed: 4),
        Scenario(maxsize: 0, producers: 1, consumers: 8, seed: 5),
    ])
    func exactlyOnceWithRandomCancellations(_ scenario: Scenario) async throws {
        let q = AsyncQueue<Int>(maxsize: scenario.maxsize)
        let ledger = Ledger()
        let itemsPerProducer = 10_000
        var random = SplitMix64(seed: scenario.seed)

        func startProducer(_ index: Int) -> Task<Void, Never> {
            Task {
                for n in 0..<itemsPerProducer {
                    let item = index * 1_000_000 + n
                    do {
                        try await q.put(item)
                        await ledger.recordPut(item)
                    } catch {
                        return   // cancelled: the item was not inserted
                    }
                }
            }
        }
        func startConsumer() -> Task<Void, Never> {
            Task {
                while true {
                    do {
                        let item = try await q.get()
                        await ledger.recordReceived(item)   // counts it done too
                        try await q.taskDone()
                    } catch {
                        return   // cancelled while waiting, or the queue shut down
                    }
                }
            }
        }

        var producers = (0..<scenario.producers).map(startProducer)
        var consumers = (0..<scenario.consumers).map { _ in startConsumer() }

        // While the producers run, cancel a random consumer or producer now and then and start
        // a replacement consumer. A cancelled producer is not replaced: its remaining items
        // are simply never put.
        var cancelledProducers = 0
        for round in 0..<200 {
            await Task.yield()
            if random.next() % 3 == 0 {
                let index = Int(random.next() % UInt64(consumers.count))
                consumers[index].cancel()
                await consumers[index].value
                consumers[index] = startConsumer()
            }
            if round % 50 == 49, cancelledProducers < scenario.producers - 1 {
                producers[cancelledProducers].cancel()
                cancelledProducers += 1
            }
        }
        for producer in producers { await producer.value }
        producers.removeAll()

        // Every put has completed; join must return only when every one is done.
        try await q.join()
        let acknowledged = await ledger.put
        #expect(await ledger.done == acknowledged.count, "join returned before the last taskDone")

        await q.shutdown()
        for consumer in consumers { await consumer.value }
        let received = await ledger.received
        #expect(received.count == acknowledged.count, "an item was lost or delivered twice")
        #expect(Set(received) == acknowledged)
        #expect(await q.unfinishedTasks == 0)
        #expect(await q.waitingGetters == 0)
        #expect(await q.waitingPutters == 0)
    }

    /// Many getters cancelled while items arrive: whatever is not received by a cancelled
    /// getter stays in the queue for the others; nothing is lost or duplicated.
    @Test func cancelledGettersNeverLoseItems() async throws {
        let q = AsyncQueue<Int>()
        var random = SplitMix64(seed: 99)
        var received: [Int] = []
        for item in 0..<500 {
            let getters = (0..<4).map { _ in Task { try await q.get() } }
            await q.untilWaiting(getters: 4)
            let victim = Int(random.next() % 4)
            try await q.atomically { q in
                try q.putNowait(item)
                getters[victim].cancel()   // may be the getter just woken: it must pass it on
            }
            for (index, getter) in getters.enumerated() where index != victim {
                getter.cancel()
            }
            for getter in getters {
                if let value = try? await getter.value { received.append(value) }
            }
            while let value = try? await q.getNowait() { received.append(value) }
        }
        #expect(received == Array(0..<500))
    }
}
