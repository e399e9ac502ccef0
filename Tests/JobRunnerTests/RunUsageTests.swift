import JobModel
@testable import JobRunner
import JobQueueTesting
import Testing

@Suite("What a run used", .timeLimit(.minutes(1)))
struct RunUsageTests {
    @Test("A command that burns 1 s of CPU (its own count, not the wall clock's) reports at least 0.9 s")
    func cpuTime() async throws {
        try await withTemporaryDirectory("jobq-usage") { directory in
            // awk spins until /proc/self/stat says it used 100 ticks (1 s) of CPU.
            let burn = #"BEGIN { while (1) { for (i = 0; i < 100000; i++) x += i; getline s < "/proc/self/stat"; close("/proc/self/stat"); split(s, f, " "); if (f[14] + f[15] >= 100) exit } }"#
            let end = await executor(directory).measuredRun(job(.argv(["awk", burn])))
            #expect(end.outcome == .exited(code: 0))
            let usage = try #require(end.usage)
            #expect(usage.cpu >= .milliseconds(900), "\(usage)")
            #expect(usage.userCPU > usage.systemCPU, "\(usage)")
        }
    }

    @Test("The largest resident set counts the processes the command waited for")
    func memory() async throws {
        try await withTemporaryDirectory("jobq-usage") { directory in
            // A child of the shell reads 64 MiB into one buffer; the shell waits for it.
            let end = await executor(directory).measuredRun(job(.shell("dd if=/dev/zero bs=64M count=1 of=/dev/null 2> /dev/null; true")))
            #expect(end.outcome == .exited(code: 0))
            let usage = try #require(end.usage)
            #expect(usage.maxResidentBytes >= 64 << 20, "\(usage)")
        }
    }

    @Test("A command that cannot start used nothing")
    func notStarted() async throws {
        try await withTemporaryDirectory("jobq-usage") { directory in
            let end = await executor(directory).measuredRun(job(.argv(["/no/such/program"])))
            guard case .spawnFailed = end.outcome else { Issue.record("\(end.outcome)"); return }
            #expect(end.usage == nil)
        }
    }
}
