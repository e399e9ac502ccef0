/// A queue's resource limits from the daemon's configuration: defaults for the jobs that set
/// none, and ceilings that no job may ask above (a job that sets no limit where there is a
/// ceiling runs with the ceiling).
public struct QueueLimits: Hashable, Sendable {
    public var defaults: ResourceLimits
    public var ceilings: ResourceLimits

    public init(defaults: ResourceLimits = ResourceLimits(), ceilings: ResourceLimits = ResourceLimits()) {
        self.defaults = defaults
        self.ceilings = ceilings
    }

    /// These settings, with `other`'s where these have none (a queue's own over `queue.*`'s).
    public func filled(from other: QueueLimits) -> QueueLimits {
        QueueLimits(defaults: defaults.filled(from: other.defaults), ceilings: ceilings.filled(from: other.ceilings))
    }

    /// The limits a job of queue `queue` that asked for `asked` runs with. Throws
    /// ``JobSpecError/invalidField(_:_:)`` naming the first limit asked above its ceiling.
    public func apply(to asked: ResourceLimits, queue: String) throws(JobSpecError) -> ResourceLimits {
        if let (field, value, ceiling) = asked.firstAbove(ceilings) {
            throw .invalidField("limits.\(field)", "is \(value), above queue \(queue)'s ceiling of \(ceiling)")
        }
        // A default above the ceiling gives way to it.
        let defaults = ResourceLimits(
            memoryBytes: Self.lower(defaults.memoryBytes, ceilings.memoryBytes),
            cpuSeconds: Self.lower(defaults.cpuSeconds, ceilings.cpuSeconds),
            openFiles: Self.lower(defaults.openFiles, ceilings.openFiles),
            processes: Self.lower(defaults.processes, ceilings.processes),
            fileSizeBytes: Self.lower(defaults.fileSizeBytes, ceilings.fileSizeBytes))
        return asked.filled(from: defaults).filled(from: ceilings)
    }

    private static func lower(_ a: Int64?, _ b: Int64?) -> Int64? {
        guard let a else { return b }
        guard let b else { return a }
        return min(a, b)
    }
}
