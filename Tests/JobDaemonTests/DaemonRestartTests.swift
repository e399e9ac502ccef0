import Foundation
import JobModel
import JobQueueTesting
import JobStore
import JobStoring
import Logging
import Synchronization
import Testing

/// Restarts: a rival daemon on the same socket, and a `kill -9` with jobs running.
extension DaemonTests {
    @Test("A socket another daemon answers on is refused; a leftover one is replaced")
    func socketConflicts() async throws {
        let fixture = try Fixture()
        let first = try fixture.start()
        #expect(await fixture.awaitNotification("READY=1"))
        let rival = Process()
        rival.executableURL = URL(filePath: Self.jobqdPath)
        rival.arguments = ["--state-dir", fixture.directory + "/other-state", "--socket", fixture.socketPath]
        let errors = Pipe()
        rival.standardError = errors
        try rival.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(await exit(of: rival) == 75)
        #expect(message.contains("a daemon already answers on \(fixture.socketPath)"))
        // Refused before it touched its state directory: nothing created, nothing migrated.
        #expect(!FileManager.default.fileExists(atPath: fixture.directory + "/other-state"))
        // kill -9 leaves the socket file behind; the next start replaces it.
        kill(first.processIdentifier, SIGKILL)
        _ = await exit(of: first)
        #expect(FileManager.default.fileExists(atPath: fixture.socketPath))
        let second = try fixture.start()
        #expect(await fixture.awaitNotification("READY=1"))
        #expect(try await curl(fixture.socketPath, "/healthz").0 == 200)
        second.terminate()
        #expect(await exit(of: second) == 0)
    }

    @Test("kill -9 with jobs running: at the next start they run again, and none is lost")
    func killNineThenRestart() async throws {
        let fixture = try Fixture()
        let started = try fixture.fifo("started")
        let finished = try fixture.fifo("finished")
        let marks = fixture.directory
        let command = """
            if [ -e \(marks)/ran.$JOBQ_JOB_ID ]; then echo $JOBQ_JOB_ID > \(finished); exit 0; fi
            touch \(marks)/ran.$JOBQ_JOB_ID; echo $$ > \(started); exec sleep 300
            """
        let ids = try await fixture.insert((0..<3).map { _ in JobSpec(command: .shell(command)) })
        let first = try fixture.start(["--workers", "3"])
        #expect(await fixture.awaitNotification("READY=1"))
        let pids = await lines(3, from: started).compactMap { pid_t($0) }
        #expect(pids.count == 3)
        kill(first.processIdentifier, SIGKILL)
        _ = await exit(of: first)
        // The jobs' processes outlive the daemon (no systemd here to empty its cgroup).
        #expect(pids.allSatisfy { !isZombie($0) })

        let second = try fixture.start(["--workers", "3"])
        #expect(await fixture.awaitNotification("READY=1"))
        let done = await lines(3, from: finished).compactMap { JobID($0) }
        #expect(Set(done) == Set(ids))
        // The new daemon stopped the old runs before running the jobs again (found by the crash
        // loop of scripts/reliability: two copies of a job ran at once).
        #expect(pids.allSatisfy { isZombie($0) }, "the first daemon's runs are stopped")
        // What a person reads: the interrupted attempt said as such, not a count over the limit.
        let shown = try await JobqCommandTests.jobq(fixture.socketPath, ["show", "\(ids[0])"])
        #expect(shown.stdout.contains("attempts: 1 of 1, and 1 interrupted by a stop or crash of jobqd"), "\(shown.stdout)")
        let listed = try await JobqCommandTests.jobq(fixture.socketPath, ["list"])
        #expect(listed.stdout.contains("1/1+1") && listed.stdout.contains("+N: attempts interrupted"), "\(listed.stdout)")
        // The daemon's own drain tells us they are recorded.
        second.terminate()
        #expect(await exit(of: second) == 0)
        let jobs = try await fixture.withStore { store in
            var jobs: [Job] = []
            for id in ids { if let job = try await store.job(id) { jobs.append(job) } }
            return jobs
        }
        #expect(jobs.map(\.id) == ids)
        for job in jobs {
            #expect(job.state == .succeeded, "job \(job.id)")
            #expect(job.attempts == 1 && job.interruptedAttempts == 1, "job \(job.id): the one that succeeded, and the interrupted one apart")
        }
    }
}
