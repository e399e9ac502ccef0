import JobModel
import JobStoring

/// What the engine's actor hears through its inbox, in order: what waits and joins need, and
/// the drain's end.
enum EngineMessage: Sendable {
    /// Jobs reached a terminal state: waits for them resolve, joins may be done. `queue`, when
    /// every one of them is of that queue.
    case terminal([JobID], queue: String?)
    /// A join recheck's counts (`nil`: the store could not be read).
    case joinCounts([QueueCounts]?)
    /// Jobs a failure failed down the chain: read them and publish them as finished.
    case publishFinished([JobID])
    /// Another node finished these jobs: waits and joins hear of it, and subscribers get them.
    case finishedElsewhere([JobID])
    /// Look again at what the waits and joins wait for (another node may have finished it).
    case lookAgain
    /// The drain is done: nothing runs, nothing is being recorded.
    case drained
}
