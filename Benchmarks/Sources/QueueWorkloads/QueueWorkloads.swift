import AsyncAlgorithms
import AsyncQueues

/// One benchmark configuration: how many producer and consumer tasks move how many items
/// through a queue of which capacity. `maxsize == 0` means unbounded.
public struct QueueConfiguration: Sendable, CustomStringConvertible {
    public var producers: Int
    public var consumers: Int
    public var maxsize: Int

    public init(producers: Int, consumers: Int, maxsize: Int) {
        self.producers = producers
        self.consumers = consumers
        self.maxsize = maxsize
    }

    /// The configurations that the issue asks for: 1/1 and 4/4, maxsize unbounded, 1 and 100.
    public static let all: [QueueConfiguration] = [1, 4].flatMap { tasks in
        [0, 1, 100].map { QueueConfiguration(producers: tasks, consumers: tasks, maxsize: $0) }
    }

    public var description: String {
        "\(producers)p/\(consumers)c maxsize=\(maxsize == 0 ? "unbounded" : String(maxsize))"
    }
}

/// The queue implementations compared. Each runs the same workload: every producer puts its
/// share of `items` integers, then the queue is closed (shutdown / finish) once all producers
/// are done; every consumer takes items until the queue reports its end. The total taken is
/// checked, so no implementation can skip work.
public enum QueueImplementation: String, Sendable, CaseIterable {
    /// jobq's `AsyncQueue` (FIFO), used from ordinary tasks: every put and get hops onto the
    /// queue's actor from whichever pool thread the task runs on.
    case asyncQueue = "AsyncQueue"
    /// jobq's `AsyncQueue`, with producers and consumers written as functions that take the
    /// queue as an `isolated` parameter: they all run on the queue's executor, one at a time,
    /// as every asyncio coroutine runs on its one event loop. This is asyncio's execution
    /// model, so it is the row to set beside CPython's figures.
    case asyncQueueIsolated = "AsyncQueue/iso"
    /// The standard library's `AsyncStream` with an unbounded buffer: one consumer only, and no
    /// back-pressure, so it runs only the 1-consumer unbounded configuration.
    case asyncStream = "AsyncStream"
    /// swift-async-algorithms' `AsyncChannel`: every `send` waits until a consumer takes the
    /// element (a rendezvous, stricter than maxsize 1), many producers and consumers allowed.
    /// It runs the maxsize-1 configurations, the closest semantics it has.
    case asyncChannel = "AsyncChannel"
    /// A minimal actor queue without cancellation safety, `taskDone` or `join`: the reference
    /// floor for any actor-based queue.
    case plainActor = "PlainActor"

    /// Whether this implementation offers the configuration's semantics.
    public func supports(_ configuration: QueueConfiguration) -> Bool {
        switch self {
        case .asyncQueue, .asyncQueueIsolated: true
        case .asyncStream: configuration.consumers == 1 && configuration.maxsize == 0
        case .asyncChannel: configuration.maxsize == 1
        case .plainActor: true
        }
    }

    /// Moves `items` items through a fresh queue with the configuration's tasks.
    /// - Returns: the number of items the consumers received (always `items`).
    @discardableResult
    public func run(_ configuration: QueueConfiguration, items: Int) async throws -> Int {
        precondition(supports(configuration), "\(rawValue) does not offer \(configuration)")
        let received: Int
        switch self {
        case .asyncQueue: received = try await runAsyncQueue(configuration, items: items)
        case .asyncQueueIsolated: received = try await runAsyncQueueIsolated(configuration, items: items)
        case .asyncStream: received = await runAsyncStream(items: items)
        case .asyncChannel: received = await runAsyncChannel(configuration, items: items)
        case .plainActor: received = await runPlainActor(configuration, items: items)
        }
        if received != items {
            fatalError("\(rawValue) \(configuration) delivered \(received) of \(items) items")
        }
        return received
    }
}

/// The share of `items` that producer `index` of `count` puts.
func share(of items: Int, index: Int, count: Int) -> Int {
    items / count + (index < items % count ? 1 : 0)
}

private func runAsyncQueue(_ configuration: QueueConfiguration, items: Int) async throws -> Int {
    let queue = AsyncQueue<Int>(maxsize: configuration.maxsize)
    return try await withThrowingTaskGroup(of: Int.self) { group in
        for _ in 0..<configuration.consumers {
            group.addTask {
                var taken = 0
                for try await _ in queue { taken += 1 }
                return taken
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { producers in
            for index in 0..<configuration.producers {
                producers.addTask {
                    for item in 0..<share(of: items, index: index, count: configuration.producers) {
                        try await queue.put(item)
                    }
                }
            }
            try await producers.waitForAll()
        }
        await queue.shutdown()
        return try await group.reduce(0, +)
    }
}

/// Puts `count` items, running on the queue's executor throughout.
private func produce(into queue: isolated AsyncQueue<Int>, count: Int) async throws {
    for item in 0..<count { try await queue.put(item) }
}

/// Gets items until the queue is shut down, running on the queue's executor throughout.
private func consume(from queue: isolated AsyncQueue<Int>) async throws -> Int {
    var taken = 0
    for try await _ in queue { taken += 1 }
    return taken
}

private func runAsyncQueueIsolated(_ configuration: QueueConfiguration, items: Int) async throws -> Int {
    let queue = AsyncQueue<Int>(maxsize: configuration.maxsize)
    return try await withThrowingTaskGroup(of: Int.self) { group in
        for _ in 0..<configuration.consumers {
            group.addTask { try await consume(from: queue) }
        }
        try await withThrowingTaskGroup(of: Void.self) { producers in
            for index in 0..<configuration.producers {
                producers.addTask {
                    try await produce(into: queue, count: share(of: items, index: index, count: configuration.producers))
                }
            }
            try await producers.waitForAll()
        }
        await queue.shutdown()
        return try await group.reduce(0, +)
    }
}

private func runAsyncStream(items: Int) async -> Int {
    let (stream, continuation) = AsyncStream<Int>.makeStream(bufferingPolicy: .unbounded)
    return await withTaskGroup(of: Int.self) { group in
        group.addTask {
            var taken = 0
            for await _ in stream { taken += 1 }
            return taken
        }
        group.addTask {
            for item in 0..<items { continuation.yield(item) }
            continuation.finish()
            return 0
        }
        return await group.reduce(0, +)
    }
}

private func runAsyncChannel(_ configuration: QueueConfiguration, items: Int) async -> Int {
    let channel = AsyncChannel<Int>()
    return await withTaskGroup(of: Int.self) { group in
        for _ in 0..<configuration.consumers {
            group.addTask {
                var taken = 0
                for await _ in channel { taken += 1 }
                return taken
            }
        }
        await withTaskGroup(of: Void.self) { producers in
            for index in 0..<configuration.producers {
                producers.addTask {
                    for item in 0..<share(of: items, index: index, count: configuration.producers) {
                        await channel.send(item)
                    }
                }
            }
        }
        channel.finish()
        return await group.reduce(0, +)
    }
}

private func runPlainActor(_ configuration: QueueConfiguration, items: Int) async -> Int {
    let queue = PlainActorQueue<Int>(maxsize: configuration.maxsize)
    return await withTaskGroup(of: Int.self) { group in
        for _ in 0..<configuration.consumers {
            group.addTask {
                var taken = 0
                while await queue.get() != nil { taken += 1 }
                return taken
            }
        }
        await withTaskGroup(of: Void.self) { producers in
            for index in 0..<configuration.producers {
                producers.addTask {
                    for item in 0..<share(of: items, index: index, count: configuration.producers) {
                        await queue.put(item)
                    }
                }
            }
        }
        await queue.close()
        return await group.reduce(0, +)
    }
}
