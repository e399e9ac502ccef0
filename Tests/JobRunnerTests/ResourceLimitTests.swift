import Foundation
import JobModel
import JobQueueTesting
@testable import JobRunner
import Testing

@Suite("Resource limits of a job's command", .timeLimit(.minutes(1)))
struct ResourceLimitTests {
    func limited(_ command: Command, id: JobID = 1, _ limits: ResourceLimits) -> Job {
        var job = job(command, id: id)
        job.spec.limits = limits
        return job
    }

    @Test("A command past its CPU limit gets SIGXCPU, and the outcome names the limit")
    func cpu() async throws {
        try await withTemporaryDirectory("jobq-limits") { directory in
            let spin = "BEGIN { while (1) x++ }"
            let end = await executor(directory).measuredRun(limited(.argv(["awk", spin]), ResourceLimits(cpuSeconds: 1)))
            #expect(end.outcome == .limitReached(signal: SIGXCPU, limit: "CPU limit of 1 s"))
            #expect(end.outcome.description == "killed by signal 24 (SIGXCPU): it reached its CPU limit of 1 s")
            #expect(end.outcome.completion == .failed(exitCode: nil, signal: SIGXCPU, reason: end.outcome.description))
        }
    }

    @Test("A command writing past its file size limit gets SIGXFSZ, and the outcome names the limit")
    func fileSize() async throws {
        try await withTemporaryDirectory("jobq-limits") { directory in
            let end = await executor(directory).measuredRun(limited(
                .argv(["dd", "if=/dev/zero", "of=\(directory)/big", "bs=65536", "count=64"]), ResourceLimits(fileSizeBytes: 1 << 20)))
            #expect(end.outcome == .limitReached(signal: SIGXFSZ, limit: "file size limit of 1048576 bytes"))
            var info = stat()
            #expect(stat(directory + "/big", &info) == 0 && info.st_size == 1 << 20)
        }
    }

    @Test("Memory, open files and processes are set as asked; an allocation over the memory limit fails")
    func setLimits() async throws {
        try await withTemporaryDirectory("jobq-limits") { directory in
            let runner = executor(directory)
            let limits = ResourceLimits(memoryBytes: 256 << 20, openFiles: 32, processes: 300)
            // The soft limits as /proc says them: processes, open files, address space.
            let read = #"awk '/^Max (processes|open files|address space)/ { print $(NF - 2) }' /proc/self/limits"#
            #expect(await runner.run(limited(.shell(read), id: 2, limits)) == .exited(code: 0))
            #expect(contents(directory + "/2.out") == "300\n32\n268435456\n")
            // dd cannot get a 512 MiB buffer under a 256 MiB address space.
            let big = await runner.run(limited(.argv(["dd", "if=/dev/zero", "of=/dev/null", "bs=512M", "count=1"]), id: 3, limits))
            #expect(big == .exited(code: 1))
            #expect(contents(directory + "/3.err").contains("memory"))
            // Without limits, the daemon's own.
            #expect(await runner.run(job(.shell(read), id: 4)) == .exited(code: 0))
            #expect(contents(directory + "/4.out") != "300\n32\n268435456\n")
        }
    }
}
