// queue-throughput: moves items through each queue implementation in each configuration and
// prints the median items/s, one JSON object per line (or a table with --table).
//
//   swift run -c release queue-throughput [--items N] [--runs R] [--table] [--config P/C/M] [--executor pool|single]
//
// compare_asyncio.py runs this and CPython's asyncio.Queue on the same workload.

// `_createExecutors` (SE "Custom main and global executors", shipped in Swift 6.3 as an
// experimental SPI) replaces the process's default task executor; --executor single uses it.
@_spi(ExperimentalCustomExecutors) import _Concurrency
import QueueWorkloads
#if canImport(Glibc)
import Glibc
#endif

var items = 1_000_000
var runs = 5
var table = false
var executorName = "pool"
var filter: String?
var only: (producers: Int, consumers: Int, maxsize: Int)?
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--items": items = Int(arguments.popFirst() ?? "") ?? items
    case "--runs": runs = Int(arguments.popFirst() ?? "") ?? runs
    case "--table": table = true
    case "--executor": executorName = arguments.popFirst() ?? executorName
    case "--filter": filter = arguments.popFirst()
    case "--config":
        let fields = (arguments.popFirst() ?? "").split(separator: "/").compactMap { Int($0) }
        guard fields.count == 3 else {
            print("queue-throughput: --config takes PRODUCERS/CONSUMERS/MAXSIZE, e.g. 4/4/1 (maxsize 0: unbounded)")
            exit(2)
        }
        only = (fields[0], fields[1], fields[2])
    case "--help", "-h":
        print("usage: queue-throughput [--items N] [--runs R] [--table] [--filter S] [--config P/C/M] [--executor pool|single]")
        print("  --items N  items moved per run (default 1000000)")
        print("  --runs R   timed runs per configuration, after one warm-up; the median is printed (default 5)")
        print("  --table    print a table instead of JSON lines")
        print("  --filter S run only the rows whose name (\"AsyncQueue/iso 1p/1c maxsize=1\") contains S")
        print("  --config P/C/M  run only the configuration with P producers, C consumers and maxsize M")
        print("             (0: unbounded), e.g. 4/4/1")
        print("  --executor pool|single")
        print("             pool: tasks run on Swift's global concurrent executor (all cores; default)")
        print("             single: the process's default executor is one thread, as asyncio's event loop is:")
        print("             every task, and the queue, runs on it")
        exit(0)
    default:
        print("queue-throughput: unknown argument \(argument); see --help")
        exit(2)
    }
}

/// The default executors of `--executor single`: the main executor stays the platform's (the
/// top-level code below runs there, and only waits), and every other task, with every default
/// actor it calls, runs on one thread.
///
/// An earlier version ran the workloads under `withTaskExecutorPreference` on the same thread
/// instead; with a preference the runtime looks it up under the task's status-record lock on
/// every executor switch, which took ~27 % of the samples (perf, 4p/4c maxsize=1).
struct OneThreadExecutorFactory: ExecutorFactory {
    static let mainExecutor: any MainExecutor = PlatformExecutorFactory.mainExecutor
    static let defaultExecutor: any TaskExecutor = SingleThreadExecutor(name: "default-executor")
}

switch executorName {
case "pool": break
// Before any task is enqueued: the runtime reads the default executor at each global enqueue.
case "single": _createExecutors(factory: OneThreadExecutorFactory.self)
default:
    print("queue-throughput: --executor is pool or single")
    exit(2)
}

let clock = ContinuousClock()
for configuration in QueueConfiguration.all {
    if let only, (configuration.producers, configuration.consumers, configuration.maxsize) != only { continue }
    for implementation in QueueImplementation.allCases where implementation.supports(configuration) {
        if let filter, !"\(implementation.rawValue) \(configuration)".contains(filter) { continue }
        _ = try await implementation.run(configuration, items: min(items, 10_000))  // warm-up
        var rates: [Double] = []
        for _ in 0..<runs {
            let elapsed = try await clock.measure {
                _ = try await implementation.run(configuration, items: items)
            }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            rates.append(Double(items) / seconds)
        }
        rates.sort()
        let median = rates[rates.count / 2]
        if table {
            let name = implementation.rawValue + String(repeating: " ", count: max(0, 14 - implementation.rawValue.count))
            let label = configuration.description
            defer { fflush(nil) }
            print("\(name) \(label)\(String(repeating: " ", count: max(0, 26 - label.count))) \(Int(median)) items/s")
        } else {
            defer { fflush(nil) }
            print(#"{"implementation":"\#(implementation.rawValue)","producers":\#(configuration.producers),"consumers":\#(configuration.consumers),"maxsize":\#(configuration.maxsize),"items":\#(items),"items_per_second":\#(Int(median))}"#)
        }
    }
}
