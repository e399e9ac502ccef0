import Foundation
import JobQueueTesting
import JobModel
import JobStore
import JobStoring
import Testing

/// jobqd on a terminal: Ctrl-C (SIGINT) drains and says what it waits for; a second one stops.
@Suite("jobqd and Ctrl-C", .timeLimit(.minutes(2)))
struct DaemonInterruptTests {
    @Test("The first Ctrl-C says what the drain waits for; a second stops the running job at once; it runs again at the next start")
    func secondInterrupt() async throws {
        let fixture = try DaemonTests.Fixture()
        let started = try fixture.fifo("started")
        let ids = try await fixture.insert([JobSpec(command: .shell("echo $JOBQ_JOB_ID > \(started); exec sleep 300"))])
        let errors = Pipe()
        let daemon = try fixture.start(["--workers", "1"], environment: ["JOBQ_DRAIN_GRACE_SECONDS": "300", "JOBQ_LOG_LEVEL": "notice"],
                                       errors: errors)
        #expect(await fixture.awaitNotification("READY=1"))
        #expect(await DaemonTests().lines(1, from: started) == ["\(ids[0])"])
        daemon.interrupt()
        #expect(await fixture.awaitNotification("STOPPING=1"))
        let first = await Self.line(containing: "Ctrl-C again", from: errors)
        #expect(first.contains("waiting up to 300") && first.contains("1 running job"), "\(first)")
        daemon.interrupt()
        // Stopped well before the grace: the job's process group is stopped and the job released.
        #expect(await DaemonTests().exit(of: daemon) == 0)
        let job = try #require(try await fixture.withStore { try await $0.job(ids[0]) })
        #expect(job.state == .queued && job.attempts == 0, "\(job)")
    }

    /// Reads `pipe` until a line containing `text` (or its end).
    static func line(containing text: String, from pipe: Pipe) async -> String {
        await onOwnThread {
            var buffer = ""
            while true {
                let data = pipe.fileHandleForReading.availableData
                if data.isEmpty { return buffer }
                buffer += String(decoding: data, as: UTF8.self)
                if let line = buffer.split(separator: "\n").first(where: { $0.contains(text) }) { return String(line) }
            }
        }
    }
}
