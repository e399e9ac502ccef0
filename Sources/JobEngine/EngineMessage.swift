import JobModel
import JobStore

/// What the engine's inbox carries to its run loop, in order.
enum EngineMessage: Sendable {
    /// An input for ``EngineState``, decided when the loop reads it (from a caller off the
    /// engine's actor: a submit on a connection's event loop, an effect that ended).
    case input(EngineInput)
    /// Queues in ``JobEngine/wakes`` have new work (``EngineInput/workArrived(queues:)`` for
    /// them, taken from the board when the loop reads this).
    case wake
    /// Actions already decided on the engine's actor, for the loop to carry out.
    case execute([EngineAction])
    /// Jobs reached a terminal state: waits for them resolve, joins may be done. `queue`, when
    /// every one of them is of that queue.
    case terminal([JobID], queue: String?)
    /// A join recheck's counts (`nil`: the store could not be read).
    case joinCounts([QueueCounts]?)
}
