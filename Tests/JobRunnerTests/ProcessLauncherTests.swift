import Foundation
import JobModel
import JobQueueTesting
@testable import JobRunner
import Testing

/// The launcher's own rules: its thread, its deadlines, its registry, a job's starting state.
extension ProcessJobExecutorTests {
    @Test("The directory of an output file's path, checked before the spawn")
    func directoryOfPath() {
        #expect(ProcessJobExecutor.directory(of: "/var/lib/jobq/logs/7.out") == "/var/lib/jobq/logs")
        #expect(ProcessJobExecutor.directory(of: "/7.out") == "/")
        #expect(ProcessJobExecutor.directory(of: "7.out") == ".")
        #expect(ProcessJobExecutor.directory(of: "logs/7.out") == "logs")
    }

    @Test("The launcher's deadlines: durations in nanoseconds, a negative one 0, one too long to count the most there is")
    func launcherDurations() {
        #expect(ProcessLauncher.nanoseconds(.milliseconds(1500)) == 1_500_000_000)
        #expect(ProcessLauncher.nanoseconds(.nanoseconds(7)) == 7)
        #expect(ProcessLauncher.nanoseconds(.seconds(-3)) == 0)
        #expect(ProcessLauncher.nanoseconds(.seconds(Int64.max)) == UInt64.max)
    }

    @Test("The launcher's thread, the parent of every job, does not block SIGCHLD: a job's exit raises no signal that wakes other threads")
    func launcherLeavesSIGCHLDUnblocked() async throws {
        // The launcher's thread starts with the first run, from a thread of Swift's pool, whose
        // mask blocks SIGCHLD; the thread must unblock it itself.
        try await withTemporaryDirectory("jobq-runner") { directory in
            #expect(await executor(directory).run(job(.argv(["true"]))) == .exited(code: 0))
        }
        let threads = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")
        let launchers = threads.filter { contents("/proc/self/task/\($0)/comm") == "jobq-launcher\n" }
        #expect(launchers.count == 1)
        func mask(_ thread: String) -> UInt64? {
            statusField("SigBlk:", in: contents("/proc/self/task/\(thread)/status")).flatMap { UInt64($0, radix: 16) }
        }
        // While it clones (for a test running beside this one), the thread blocks every signal
        // but SIGKILL, SIGSTOP and glibc's two internal ones for a moment: read again until the
        // thread is between spawns.
        let duringSpawn: UInt64 = ~[SIGKILL, SIGSTOP, 32, 33].reduce(UInt64(0)) { $0 | 1 << (UInt64($1) - 1) }
        for thread in launchers {
            var seen = mask(thread)
            for _ in 0..<10_000 where seen.map({ $0 & duringSpawn == duringSpawn }) ?? false { seen = mask(thread) }
            #expect(seen.map { $0 & (1 << (UInt64(SIGCHLD) - 1)) == 0 } == true, "SigBlk \(String(seen ?? 0, radix: 16))")
        }
    }

    @Test("The launcher knows its unreaped leaders: a job's pid while it runs, not once it has ended")
    func unreapedLeaders() async throws {
        try await withTemporaryDirectory("jobq-runner") { directory in
            let fifo = directory + "/ready"
            #expect(mkfifo(fifo, 0o600) == 0)
            let runner = executor(directory)
            let pid = await withTaskGroup(of: pid_t?.self) { group in
                group.addTask {
                    _ = await runner.run(job(.shell("echo $$ > \(fifo); exec sleep 30"), id: 5))
                    return nil
                }
                let pid = pid_t(await awaitLine(fromFIFO: fifo)) ?? -1
                #expect(pid > 0 && runner.launcher.unreapedLeaders.contains(pid))
                group.cancelAll()  // stops the job; the run reports once the launcher reaped it
                await group.waitForAll()
                return pid
            }
            #expect(!runner.launcher.unreapedLeaders.contains(pid))
        }
    }

    @Test("A job starts as the leader of its own session, stdin from /dev/null, no signal blocked or ignored (the daemon's test process ignores some), nothing open but 0, 1 and 2")
    func startingState() async throws {
        try await withTemporaryDirectory("jobq-runner") { directory in
            // The test's own process ignores SIGPIPE, as the daemon does: the job must not.
            let previous = signal(SIGPIPE, SIG_IGN)
            defer { signal(SIGPIPE, previous) }
            let runner = executor(directory)
            #expect(await runner.run(job(.argv(["cat", "/proc/self/status", "/proc/self/stat"]), id: 11)) == .exited(code: 0))
            let output = contents(directory + "/11.out")
            for field in ["SigBlk:", "SigIgn:"] {
                #expect(statusField(field, in: output) == "0000000000000000", "\(field)")
            }
            let lines = output.split(separator: "\n")
            // /proc/self/stat: pid (comm) state ppid pgrp session ...
            let stat = lines.last.map { $0.split(separator: ")").last?.split(separator: " ") ?? [] } ?? []
            let pid = lines.last?.split(separator: " ").first
            #expect(stat.count > 3 && stat[3] == pid, "the job leads its session")
            #expect(await runner.run(job(.shell("readlink /proc/$$/fd/0; ls /proc/$$/fd"), id: 12)) == .exited(code: 0))
            #expect(contents(directory + "/12.out") == "/dev/null\n0\n1\n2\n")
        }
    }

    @Test("The launcher's registry forgets only what still names a finished process: a descriptor number it gave back may belong to a newer one")
    func registryKeepsReusedNumbers() {
        final class Entry {}
        var registry = WatchRegistry<Entry>()
        let first = Entry(), second = Entry()
        registry.add(first, token: 1, descriptors: [10, 11, 12])
        registry.closed(11)  // the first process's stdout reached end of file; 11 is free again
        registry.add(second, token: 2, descriptors: [11, 13, 14])
        registry.forget(first, token: 1, descriptors: [10, 11, 12])
        #expect(registry[11] === second)
        #expect(registry[13] === second)
        #expect(registry[10] == nil && registry[12] == nil)
        #expect(registry[token: 1] == nil && registry[token: 2] === second)
        registry.forget(second, token: 2, descriptors: [11, 13, 14])
        #expect(registry.descriptorCount == 0)
    }
}
