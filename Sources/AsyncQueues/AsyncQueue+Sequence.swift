import DequeModule

// MARK: - Descriptions

extension AsyncQueue: CustomStringConvertible, CustomDebugStringConvertible {
    /// The queue's type and capacity, as asyncio's `str(queue)` without the state (the state
    /// is actor-isolated: read ``stateDescription`` for it).
    public nonisolated var description: String {
        "AsyncQueue<\(Element.self)>(maxsize=\(maxsize))"
    }

    /// As ``description``, plus the queue's identity, as asyncio's `repr(queue)` carries its id.
    public nonisolated var debugDescription: String {
        "AsyncQueue<\(Element.self)>(maxsize=\(maxsize)) at \(ObjectIdentifier(self).debugDescription)"
    }
}

// MARK: - AsyncSequence

extension AsyncQueue: AsyncSequence {
    /// Iterates over the queue by calling ``AsyncQueue/get()`` for each element.
    ///
    /// Iteration ends (returns `nil`) when the queue is shut down and empty; it throws
    /// `CancellationError` when the iterating task is cancelled while waiting. Consumers that
    /// use ``AsyncQueue/join()`` still call ``AsyncQueue/taskDone()`` for each element.
    public struct AsyncIterator: AsyncIteratorProtocol {
        @usableFromInline let queue: AsyncQueue<Element>

        @inlinable init(queue: AsyncQueue<Element>) {
            self.queue = queue
        }

        /// Waits for the next item; `nil` once the queue is shut down and drained.
        @inlinable public mutating func next() async throws -> Element? {
            do {
                return try await queue.get()
            } catch AsyncQueueError.shutDown {
                return nil
            }
        }

        /// Waits for the next item, running on the caller's isolation (no extra executor hop
        /// when the caller is already isolated to the queue); `nil` once the queue is shut down
        /// and drained.
        @inlinable public mutating func next(isolation actor: isolated (any Actor)?) async throws -> Element? {
            do {
                return try await queue.get()
            } catch AsyncQueueError.shutDown {
                return nil
            }
        }
    }

    /// Returns an iterator that gets items from this queue. Several iterators may consume the
    /// same queue concurrently; each item goes to exactly one of them.
    @inlinable public nonisolated func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(queue: self)
    }
}
