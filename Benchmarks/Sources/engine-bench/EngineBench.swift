// engine-bench [--jobs N] [--workers W] [--durability full|normal]
//
// End to end through JobEngine with real processes: starts the engine on a fresh database
// under /var/tmp, submits N `/bin/true` jobs in batches of 1,000 (durable), waits with
// join() until all have finished, and prints jobs/s from the first submit to the last finish.

import Foundation
import JobEngine
import JobModel
import JobRunner
import JobStore
import JobStoring
import Logging
import ServiceLifecycle

@main
struct EngineBench {
    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    static func main() async throws {
        var jobs = 10_000
        var workers = 2
        var durability = StoreConfiguration.Durability.full
        var iterator = CommandLine.arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--jobs": jobs = Int(iterator.next() ?? "") ?? jobs
            case "--workers": workers = Int(iterator.next() ?? "") ?? workers
            case "--durability": durability = StoreConfiguration.Durability(rawValue: iterator.next() ?? "") ?? durability
            default:
                print("usage: engine-bench [--jobs N] [--workers W] [--durability full|normal]")
                exit(argument == "--help" ? 0 : 64)
            }
        }
        let directory = "/var/tmp/jobq-engine-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory + "/logs", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let quiet = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let store = try await JobStore.open(
            StoreConfiguration(path: directory + "/jobs.db", logDirectory: directory + "/logs", durability: durability),
            logger: quiet)
        let executor = ProcessJobExecutor(
            configuration: ProcessExecutorConfiguration(logDirectory: directory + "/logs", workingDirectory: directory),
            launcher: ProcessLauncher(), logger: quiet)
        let engine = JobEngine(
            store: store, executor: executor, configuration: EngineConfiguration(defaultConcurrency: workers), logger: quiet)
        let group = ServiceGroup(services: [engine], logger: quiet)
        let total = jobs
        let (elapsed, failed): (Double, Int) = try await withThrowingTaskGroup(of: (Double, Int)?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return nil
            }
            try await engine.untilStarted()
            let start = now()
            var submitted = 0
            while submitted < total {
                let size = min(1000, total - submitted)
                _ = try await engine.submit((0..<size).map { _ in JobSpec(argv: ["/bin/true"]) })
                submitted += size
            }
            try await engine.join()
            let elapsed = now() - start
            let counts = try await store.counts()
            let failed = counts.reduce(0) { $0 + $1[.failed] }
            await group.triggerGracefulShutdown()
            var result: (Double, Int) = (elapsed, failed)
            for try await item in tasks { if let item { result = item } }
            return result
        }
        await store.close()
        print(String(format: "engine-bench: %d jobs of /bin/true, %d workers, durability %@: %.0f jobs/s from first submit to last finish (%d failed)",
                     total, workers, durability.rawValue, Double(total) / elapsed, failed))
        if failed > 0 { exit(1) }
    }
}
