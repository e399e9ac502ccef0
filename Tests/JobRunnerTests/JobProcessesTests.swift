import Foundation
import JobQueueTesting
@testable import JobRunner
import Testing

@Suite("JobProcesses: finding the processes a job left behind")
struct JobProcessesTests {
    /// A process started with a job's mark (`JOBQ_STATE_DIR`, `JOBQ_JOB_ID`) in its environment,
    /// returned once it wrote its first line (its own word that it runs), then killed by `stop`.
    final class Marked: Sendable {
        let process: Process
        var pid: pid_t { process.processIdentifier }

        init(_ arguments: [String], job: Int64?, stateDirectory: String) async throws {
            let process = Process()
            process.executableURL = URL(filePath: "/usr/bin/env")
            process.arguments = arguments
            var environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
            if let job {
                environment["JOBQ_STATE_DIR"] = stateDirectory
                environment["JOBQ_JOB_ID"] = String(job)
            }
            process.environment = environment
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            self.process = process
            let handle = output.fileHandleForReading
            let line = await onOwnThread { () -> String in
                var bytes: [UInt8] = []
                while let chunk = try? handle.read(upToCount: 1), let byte = chunk.first, byte != UInt8(ascii: "\n") {
                    bytes.append(byte)
                }
                return String(decoding: bytes, as: UTF8.self)
            }
            #expect(line == "ready")
        }

        func stop() async {
            kill(pid, SIGKILL)
            let process = self.process
            await onOwnThread { process.waitUntilExit() }
        }
    }

    /// A python3 that starts 4 more threads (whose ids are pids the search may probe), says
    /// ready and sleeps.
    static let threaded = ["python3", "-c", """
        import sys, threading, time
        for _ in range(4): threading.Thread(target=time.sleep, args=(300,), daemon=True).start()
        print("ready", flush=True); time.sleep(300)
        """]
    static let single = ["sh", "-c", "echo ready; exec sleep 300"]

    @Test("The processes started since a job's leader are found by their mark, each process once (not once per thread), by a probe of the pids since the leader as by a listing of /proc")
    func findSinceLeader() async throws {
        try await withTemporaryDirectory("jobq-procs") { directory in
            // The leader: any process started before the others; its pid is the floor. The
            // others must have higher pids, as a job's processes have: when the kernel's pids
            // wrap around between them (pid_max is 32768 on small machines), start again.
            var leader = Process()
            var threaded, other, unmarked, elsewhere: Marked
            repeat {
                leader = Process()
                leader.executableURL = URL(filePath: "/bin/true")
                try leader.run()
                let started = leader
                await onOwnThread { started.waitUntilExit() }
                threaded = try await Marked(Self.threaded, job: 77, stateDirectory: directory)
                other = try await Marked(Self.single, job: 78, stateDirectory: directory)
                unmarked = try await Marked(Self.single, job: nil, stateDirectory: directory)
                elsewhere = try await Marked(Self.single, job: 77, stateDirectory: directory + "/other")
                let pids = [threaded.pid, other.pid, unmarked.pid, elsewhere.pid]
                if zip([leader.processIdentifier] + pids, pids).allSatisfy({ $0 < $1 }) { break }
                for process in [threaded, other, unmarked, elsewhere] { await process.stop() }
            } while true

            let since = JobProcesses.find(jobs: [77], stateDirectory: directory, since: leader.processIdentifier)
            #expect(since == [threaded.pid])
            #expect(JobProcesses.find(jobs: [77], stateDirectory: directory) == [threaded.pid])
            #expect(Set(JobProcesses.find(jobs: [77, 78], stateDirectory: directory, since: leader.processIdentifier))
                    == [threaded.pid, other.pid])
            // A pid the caller knows to be another job's leader is not read.
            #expect(Set(JobProcesses.find(jobs: [77, 78], stateDirectory: directory, since: leader.processIdentifier,
                                          skipping: [other.pid])) == [threaded.pid])
            // With the floor above it (the last process started), the marked process is not
            // searched; unless the pids wrapped meanwhile (pid_max is 32768 on small machines,
            // and a busy one hands them out fast), when the search falls back to every process.
            let wrappedBefore = (JobProcesses.lastPID() ?? .max) < elsewhere.pid
            let above = JobProcesses.find(jobs: [77], stateDirectory: directory, since: elsewhere.pid)
            let wrappedAfter = (JobProcesses.lastPID() ?? .max) < elsewhere.pid
            if !wrappedBefore && !wrappedAfter { #expect(above.isEmpty) }

            // The probed range is every pid after the floor up to the last one handed out.
            let floor = leader.processIdentifier
            #expect(JobProcesses.candidates(above: floor, through: floor + 3) == [floor + 1, floor + 2, floor + 3])
            #expect(JobProcesses.candidates(above: floor, through: floor).isEmpty)
            let listed = JobProcesses.candidates(above: floor, through: floor + JobProcesses.probeLimit + 1)
            #expect(listed.contains(threaded.pid) && !listed.contains(floor) && listed.allSatisfy { $0 > floor },
                    "beyond the probe limit, /proc is listed")

            for process in [threaded, other, unmarked, elsewhere] { await process.stop() }
        }
    }
}
