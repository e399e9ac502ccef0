/// The last hour of ``ActivitySample``s, and the series the overview draws from them: jobs
/// queued and running, jobs finished and failed per minute, and run-time percentiles over the
/// trailing minute. A value: samples in, series out.
struct ActivityHistory: Sendable {
    struct Point: Hashable, Sendable {
        /// Seconds before the newest sample (0 is now).
        var age: Double
        var value: Double
    }

    /// How far back the charts go.
    let window: Duration
    /// The window of each percentile point.
    let percentileWindow: Duration
    private(set) var samples: [ActivitySample] = []

    init(window: Duration = .seconds(3600), percentileWindow: Duration = .seconds(60)) {
        self.window = window
        self.percentileWindow = percentileWindow
    }

    /// Adds the newest sample and forgets those older than the window (keeping one before it,
    /// so that the first point has a difference to show).
    mutating func record(_ sample: ActivitySample) {
        samples.append(sample)
        let cut = samples.lastIndex { sample.at - $0.at > window } ?? 0
        if cut > 0 { samples.removeFirst(cut) }
    }

    var newest: ActivitySample? { samples.last }

    var queued: [Point] { points { Double($1.queued) } }
    var running: [Point] { points { Double($1.running) } }

    /// Jobs finished (any end) per minute, between each sample and the one before.
    var finishedPerMinute: [Point] {
        rate { $0.finished.values.reduce(0, +) }
    }

    /// Jobs failed per minute.
    var failedPerMinute: [Point] {
        rate { $0.finished["failed"] ?? 0 }
    }

    /// The run time (seconds) under which `quantile` of the jobs that finished in the trailing
    /// minute took, at each sample; none where no job finished.
    func durations(quantile: Double) -> [Point] {
        guard let last = samples.last else { return [] }
        var result: [Point] = []
        var start = 0
        for (index, sample) in samples.enumerated() {
            while sample.at - samples[start].at > percentileWindow { start += 1 }
            guard start < index, let value = Self.quantile(quantile, from: samples[start].durations, to: sample.durations) else { continue }
            result.append(Point(age: Self.seconds(last.at - sample.at), value: value))
        }
        return result
    }

    /// Prometheus's `histogram_quantile` over the jobs counted between two cumulative
    /// histograms: linear within the bucket the rank falls in; the largest finite bound when it
    /// falls past it.
    static func quantile(_ quantile: Double, from older: [Double: Int], to newer: [Double: Int]) -> Double? {
        let bounds = newer.keys.sorted()
        let counts = bounds.map { max(0, (newer[$0] ?? 0) - (older[$0] ?? 0)) }
        guard let total = counts.last, total > 0 else { return nil }
        let rank = quantile * Double(total)
        var previousBound = 0.0
        var previousCount = 0
        for (bound, count) in zip(bounds, counts) {
            if Double(count) >= rank {
                guard bound.isFinite else { return previousBound }
                let inBucket = Double(count - previousCount)
                return inBucket > 0 ? previousBound + (bound - previousBound) * (rank - Double(previousCount)) / inBucket : bound
            }
            previousBound = bound
            previousCount = count
        }
        return previousBound
    }

    private func points(_ value: (Int, ActivitySample) -> Double) -> [Point] {
        guard let last = samples.last else { return [] }
        return samples.enumerated().map { Point(age: Self.seconds(last.at - $1.at), value: value($0, $1)) }
    }

    /// A counter's increase per minute between consecutive samples (0 where it went down, as
    /// when jobqd restarted).
    private func rate(_ counter: (ActivitySample) -> Int) -> [Point] {
        guard let last = samples.last else { return [] }
        return zip(samples, samples.dropFirst()).compactMap { older, newer in
            let span = Self.seconds(newer.at - older.at)
            guard span > 0 else { return nil }
            return Point(age: Self.seconds(last.at - newer.at), value: Double(max(0, counter(newer) - counter(older))) * 60 / span)
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
