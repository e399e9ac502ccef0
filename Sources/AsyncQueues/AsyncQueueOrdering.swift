import HeapModule
import DequeModule

/// The order in which an ``AsyncQueue`` hands out its items, chosen at construction.
///
/// - ``fifo``: first in, first out (asyncio's `Queue`).
/// - ``lifo``: last in, first out (asyncio's `LifoQueue`).
/// - ``priority(by:)``: smallest first, as asyncio's `PriorityQueue` (a binary heap). Items that
///   compare equal come out in the order they were put, which asyncio leaves unspecified.
///
/// ```swift
/// let urgentFirst = AsyncQueue<Int>(ordering: .priority)          // 1, 2, 3, …
/// let newestFirst = AsyncQueue<String>(ordering: .lifo)
/// let byDeadline = AsyncQueue<Request>(ordering: .priority(by: { $0.deadline < $1.deadline }))
/// ```
public struct AsyncQueueOrdering<Element>: Sendable {
    @usableFromInline enum Kind: Sendable {
        case fifo
        case lifo
        case priority(@Sendable (Element, Element) -> Bool)
    }

    @usableFromInline let kind: Kind

    /// First in, first out.
    public static var fifo: Self { Self(kind: .fifo) }

    /// Last in, first out.
    public static var lifo: Self { Self(kind: .lifo) }

    /// Smallest first by `areInIncreasingOrder`; equal items keep the order they were put in.
    ///
    /// - Parameter areInIncreasingOrder: A strict weak ordering; `true` when its first argument
    ///   must come out before its second.
    public static func priority(by areInIncreasingOrder: @escaping @Sendable (Element, Element) -> Bool) -> Self {
        Self(kind: .priority(areInIncreasingOrder))
    }
}

extension AsyncQueueOrdering where Element: Comparable & Sendable {
    /// Smallest first by the elements' `<`; equal items keep the order they were put in.
    public static var priority: Self {
        .priority(by: { $0 < $1 })
    }
}

/// The items of a queue, stored as its ordering requires. FIFO and LIFO share one deque
/// (taking from the front or the back); priority uses a binary heap whose entries carry a
/// sequence number so that equal items stay in insertion order.
@usableFromInline
struct QueueStorage<Element: Sendable> {
    /// A heap entry: the item, its insertion number and the queue's ordering.
    @usableFromInline
    struct Prioritized: Comparable {
        @usableFromInline let element: Element
        @usableFromInline let sequence: UInt64
        @usableFromInline let areInIncreasingOrder: @Sendable (Element, Element) -> Bool

        @inlinable init(element: Element, sequence: UInt64, areInIncreasingOrder: @escaping @Sendable (Element, Element) -> Bool) {
            self.element = element
            self.sequence = sequence
            self.areInIncreasingOrder = areInIncreasingOrder
        }

        @inlinable static func < (lhs: Self, rhs: Self) -> Bool {
            if lhs.areInIncreasingOrder(lhs.element, rhs.element) { return true }
            if lhs.areInIncreasingOrder(rhs.element, lhs.element) { return false }
            return lhs.sequence < rhs.sequence
        }

        @inlinable static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.sequence == rhs.sequence
        }
    }

    @usableFromInline enum Discipline {
        case fifo
        case lifo
        case priority(@Sendable (Element, Element) -> Bool)
    }

    @usableFromInline let discipline: Discipline
    @usableFromInline var items = Deque<Element>()
    @usableFromInline var heap = Heap<Prioritized>()
    @usableFromInline var nextSequence: UInt64 = 0

    @inlinable init(_ ordering: AsyncQueueOrdering<Element>) {
        switch ordering.kind {
        case .fifo: discipline = .fifo
        case .lifo: discipline = .lifo
        case .priority(let areInIncreasingOrder): discipline = .priority(areInIncreasingOrder)
        }
    }

    @inlinable var count: Int {
        if case .priority = discipline { return heap.count }
        return items.count
    }

    @inlinable var isEmpty: Bool {
        if case .priority = discipline { return heap.isEmpty }
        return items.isEmpty
    }

    @inlinable mutating func push(_ element: Element) {
        switch discipline {
        case .fifo, .lifo:
            items.append(element)
        case .priority(let areInIncreasingOrder):
            heap.insert(Prioritized(element: element, sequence: nextSequence, areInIncreasingOrder: areInIncreasingOrder))
            nextSequence &+= 1
        }
    }

    /// Removes and returns the next item in the queue's order, or `nil` when there is none.
    @inlinable mutating func pop() -> Element? {
        switch discipline {
        case .fifo: items.popFirst()
        case .lifo: items.popLast()
        case .priority: heap.popMin()?.element
        }
    }

    /// The items in the order they would be taken, for descriptions.
    var inTakingOrder: [Element] {
        switch discipline {
        case .fifo: Array(items)
        case .lifo: Array(items.reversed())
        case .priority: heap.unordered.sorted().map(\.element)
        }
    }
}
