import JobModel

/// Counters the engine keeps since it started, for `GET /metrics`: jobs submitted and finished
/// per queue, and how long finished jobs' last attempts ran and what they used.
public struct EngineMetrics: Hashable, Sendable {
    /// Jobs stored by a submit, per queue.
    public var submitted: [String: Int] = [:]
    /// Jobs that reached a terminal state, per queue and state.
    public var finished: [String: [JobState: Int]] = [:]
    /// The run time of finished jobs' last attempt (from `started_at` to `finished_at`), per queue.
    public var durations: [String: Histogram] = [:]
    /// The CPU time (user and system) of finished jobs' last attempt, per queue.
    public var cpuTimes: [String: Histogram] = [:]
    /// The largest resident set of finished jobs' last attempt, per queue.
    public var residentSizes: [String: Histogram] = [:]

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
            durations[job.spec.queue, default: Histogram(bounds: Histogram.secondsBounds)]
                .record(Double(max(0, finished.millisecondsSinceEpoch - started.millisecondsSinceEpoch)) / 1000)
        }
        if let usage = job.usage {
            cpuTimes[job.spec.queue, default: Histogram(bounds: Histogram.secondsBounds)].record(usage.cpu.inSeconds)
            residentSizes[job.spec.queue, default: Histogram(bounds: Histogram.bytesBounds)].record(Double(usage.maxResidentBytes))
        }
    }
}

/// A Prometheus-style histogram.
public struct Histogram: Hashable, Sendable {
    /// Bounds for durations, in seconds.
    public static let secondsBounds: [Double] = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600]
    /// Bounds for sizes in bytes: 1 MiB to 16 GiB by fours.
    public static let bytesBounds: [Double] = (0...7).map { 1_048_576 * pow4($0) }

    private static func pow4(_ exponent: Int) -> Double { (0..<exponent).reduce(1) { value, _ in value * 4 } }

    /// The upper bounds of the buckets (the last bucket, `+Inf`, is implicit).
    public let bounds: [Double]
    /// Observations per bucket (not cumulative); one more entry than ``bounds``, for `+Inf`.
    public private(set) var buckets: [Int]
    public private(set) var count = 0
    public private(set) var sum = 0.0

    public init(bounds: [Double]) {
        self.bounds = bounds
        buckets = [Int](repeating: 0, count: bounds.count + 1)
    }

    public mutating func record(_ value: Double) {
        let index = bounds.firstIndex { value <= $0 } ?? bounds.count
        buckets[index] += 1
        count += 1
        sum += value
    }
}
