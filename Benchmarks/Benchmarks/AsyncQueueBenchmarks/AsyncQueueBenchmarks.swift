// ordo-one/benchmark suite: items/s through jobq's AsyncQueue beside AsyncStream and
// AsyncChannel, for 1 producer/1 consumer and 4/4 with maxsize unbounded, 1 and 100.
//
// scalingFactor .mega: each sample moves benchmark.scaledIterations.count (1,000,000) items,
// so the reported throughput is items per second.

import Benchmark
import QueueWorkloads

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .mallocCountTotal],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        scalingFactor: .mega,
        maxDuration: .seconds(4),
        maxIterations: 7
    )
    for configuration in QueueConfiguration.all {
        for implementation in QueueImplementation.allCases where implementation.supports(configuration) {
            Benchmark("\(implementation.rawValue) \(configuration)") { benchmark in
                try await implementation.run(configuration, items: benchmark.scaledIterations.count)
            }
        }
    }
}
