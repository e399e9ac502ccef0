/// The errors an ``AsyncQueue`` throws, one per failure that asyncio.Queue reports.
///
/// Waiting calls (``AsyncQueue/get()``, ``AsyncQueue/put(_:)``, ``AsyncQueue/join()``) throw
/// `CancellationError` when their task is cancelled while they wait; everything else the queue
/// refuses is one of these cases.
public enum AsyncQueueError: Error, Hashable, Sendable, CustomStringConvertible {
    /// ``AsyncQueue/getNowait()`` found no item (asyncio's `QueueEmpty`).
    case empty
    /// ``AsyncQueue/putNowait(_:)`` found the queue at its `maxsize` (asyncio's `QueueFull`).
    case full
    /// The queue was shut down: no more items may be put, and there are none left to get
    /// (asyncio's `QueueShutDown`).
    case shutDown
    /// ``AsyncQueue/taskDone()`` was called more times than items were put
    /// (asyncio's `ValueError('task_done() called too many times')`).
    case taskDoneCalledTooManyTimes

    /// A one-sentence explanation of the error.
    public var description: String {
        switch self {
        case .empty: "the queue is empty"
        case .full: "the queue is full"
        case .shutDown: "the queue is shut down"
        case .taskDoneCalledTooManyTimes: "taskDone() called more times than items were put"
        }
    }
}
