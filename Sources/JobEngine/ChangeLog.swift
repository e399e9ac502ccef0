import DequeModule
import JobModel

/// The engine's latest changes, numbered, for readers that take them in batches rather than one
/// by one (the API's summarized event stream): each reader keeps its position and asks for what
/// came after it, so that a change costs each reader nothing until it looks.
struct ChangeLog: Sendable {
    /// The most changes kept (about 40 bytes each); a reader further behind learns that it
    /// missed some.
    static let capacity = 16_384

    private var events: Deque<JobChange> = []
    /// The number of the oldest event kept.
    private var first: UInt64 = 0

    /// The number the next event will get: a new reader's position.
    var next: UInt64 { first + UInt64(events.count) }

    mutating func append(_ event: EngineEvent) {
        events.append(JobChange(event))
        if events.count > Self.capacity {
            events.removeFirst()
            first += 1
        }
    }

    /// The events numbered `position` and later.
    func since(_ position: UInt64) -> ChangeBatch {
        let start = max(position, first)
        let kept = Int(min(start - first, UInt64(events.count)))
        return ChangeBatch(events: Array(events[kept...]), next: next, missed: position < first)
    }
}

/// What a reader of the change log gets: the events after its position, where to read from
/// next, and whether events it had not read were dropped before it looked.
public struct ChangeBatch: Sendable {
    public var events: [JobChange]
    public var next: UInt64
    public var missed: Bool
}

/// One change as the change log keeps it: what happened to which job, and what a reader needs
/// to know whether its client may see it.
public struct JobChange: Hashable, Sendable {
    public enum Kind: String, Sendable {
        case submitted, started, requeued, finished
    }

    public var kind: Kind
    public var id: JobID
    public var queue: String
    public var submitterUID: UInt32?

    public init(_ event: EngineEvent) {
        switch event {
        case .submitted: kind = .submitted
        case .started: kind = .started
        case .requeued: kind = .requeued
        case .finished: kind = .finished
        }
        let job = event.job
        id = job.id
        queue = job.spec.queue
        submitterUID = job.spec.submitterUID
    }
}
