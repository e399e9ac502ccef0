import AsyncQueues
import Foundation
import Testing

/// The three orderings, for the tests that CPython runs against Queue, LifoQueue and
/// PriorityQueue alike (`_QueueJoinTestMixin`, `_QueueShutdownTestMixin`).
enum Kind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case fifo, lifo, priority

    var testDescription: String { rawValue }

    func make<Element: Comparable & Sendable>(_: Element.Type = Element.self, maxsize: Int = 0) -> AsyncQueue<Element> {
        switch self {
        case .fifo: AsyncQueue(maxsize: maxsize, ordering: .fifo)
        case .lifo: AsyncQueue(maxsize: maxsize, ordering: .lifo)
        case .priority: AsyncQueue(maxsize: maxsize, ordering: .priority)
        }
    }
}

extension AsyncQueue {
    /// Runs `body` on the queue's executor in one go: no other task can use the queue until it
    /// returns, as nothing else runs on an asyncio loop between two `await`s.
    func atomically<T: Sendable>(_ body: @Sendable (isolated AsyncQueue<Element>) throws -> T) rethrows -> T {
        try body(self)
    }
}

/// A thread-safe list that tasks append to, for checking what happened in which order.
///
/// `@unchecked Sendable` is safe: `values` is only touched while `lock` is held. NSLock (a
/// pthread mutex) rather than `Synchronization.Mutex`, which ThreadSanitizer cannot see on
/// Linux (it reported this list's appends under `make test-tsan`).
final class Log<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Value] = []

    func append(_ value: Value) { lock.withLock { values.append(value) } }
    var all: [Value] { lock.withLock { values } }
}

/// Expects `body` to throw `AsyncQueueError.shutDown`.
func expectShutDown(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async {
    await #expect(throws: AsyncQueueError.shutDown, sourceLocation: sourceLocation) { try await body() }
}

/// Expects `task` to end with `CancellationError`.
func expectCancelled<T: Sendable>(_ task: Task<T, any Error>, sourceLocation: SourceLocation = #_sourceLocation) async {
    await #expect(throws: CancellationError.self, sourceLocation: sourceLocation) { _ = try await task.value }
}
