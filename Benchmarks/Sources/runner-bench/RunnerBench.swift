// runner-bench [--jobs N] [--concurrency C]
//
// Runs N `/usr/bin/true` jobs through ProcessJobExecutor, C at a time, and prints jobs/s: the
// spawn-and-reap rate that bounds the engine's end-to-end rate. Output files go to a
// temporary directory under /var/tmp.

import Foundation
import JobModel
import JobRunner

@main
struct RunnerBench {
    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    static func main() async throws {
        var jobs = 2000
        var concurrency = 2
        var iterator = CommandLine.arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--jobs": jobs = Int(iterator.next() ?? "") ?? jobs
            case "--concurrency": concurrency = Int(iterator.next() ?? "") ?? concurrency
            default:
                print("usage: runner-bench [--jobs N] [--concurrency C]")
                exit(argument == "--help" ? 0 : 64)
            }
        }
        let directory = "/var/tmp/jobq-runner-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let runner = ProcessJobExecutor(
            configuration: ProcessExecutorConfiguration(logDirectory: directory, workingDirectory: directory),
            launcher: ProcessLauncher())
        let total = jobs, width = concurrency
        let start = now()
        let failures = await withTaskGroup(of: Int.self) { group in
            for worker in 0..<width {
                group.addTask {
                    var failures = 0
                    var index = worker
                    while index < total {
                        let job = Job(
                            id: JobID(Int64(index + 1)), spec: JobSpec(argv: ["/usr/bin/true"]), state: .running,
                            createdAt: Timestamp(millisecondsSinceEpoch: 0), updatedAt: Timestamp(millisecondsSinceEpoch: 0))
                        if await runner.run(job) != .exited(code: 0) { failures += 1 }
                        index += width
                    }
                    return failures
                }
            }
            var sum = 0
            for await count in group { sum += count }
            return sum
        }
        let elapsed = now() - start
        print(String(format: "runner-bench: %d jobs of /usr/bin/true, %d at a time: %.0f jobs/s (%d failed)",
                     total, width, Double(total) / elapsed, failures))
        if failures > 0 { exit(1) }
    }
}
