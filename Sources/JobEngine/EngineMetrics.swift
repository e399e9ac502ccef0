import JobModel

/// Counters the engine keeps since it started, for `GET /metrics`: jobs submitted and finished
/// per queue, and how long finished jobs' last attempts ran.
public struct EngineMetrics: Hashable, Sendable {
    /// Jobs stored by a submit, per queue.
    public var submitted: [String: Int] = [:]
    /// Jobs that reached a terminal state, per queue and state.
    public var finished: [String: [JobState: Int]] = [:]
    /// The run time of finished jobs' last attempt (from `started_at` to `finished_at`), per queue.
    public var durations: [String: DurationHistogram] = [:]

    public init() {}

    mutating func record(_ event: EngineEvent) {
        switch event {
        case .submitted(let job):
            submitted[job.spec.queue, default: 0] += 1
            if job.state.isTerminal { recordFinished(job) }
        case .finished(let job):
            recordFinished(job)
        case .started, .requeued:
            break
        }
    }

    private mutating func recordFinished(_ job: Job) {
        finished[job.spec.queue, default: [:]][job.state, default: 0] += 1
        if let started = job.startedAt, let finished = job.finishedAt {
            durations[job.spec.queue, default: DurationHistogram()]
                .record(seconds: Double(max(0, finished.millisecondsSinceEpoch - started.millisecondsSinceEpoch)) / 1000)
        }
    }
}

/// A Prometheus-style histogram of durations in seconds.
public struct DurationHistogram: Hashable, Sendable {
    /// The upper bounds of the buckets, in seconds (the last bucket, `+Inf`, is implicit).
    public static let bounds: [Double] = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600]
    /// Observations per bucket (not cumulative); one more entry than ``bounds``, for `+Inf`.
    public private(set) var buckets = [Int](repeating: 0, count: DurationHistogram.bounds.count + 1)
    public private(set) var count = 0
    public private(set) var sum = 0.0

    public init() {}

    public mutating func record(seconds: Double) {
        let index = Self.bounds.firstIndex { seconds <= $0 } ?? Self.bounds.count
        buckets[index] += 1
        count += 1
        sum += seconds
    }
}
