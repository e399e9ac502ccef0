import Foundation
import JobBasics
import JobClient
import JobModel
import JobQueueTesting
import JobStore
import JobStoring
import Testing

/// Waits and log follows across a restart of the daemon, and what a terminal shows.
extension JobqCommandTests {
    @Test(
        "wait (also on a terminal, with its progress line), join and submit --wait go on across a restart of jobqd (SIGTERM: 503 shutting_down; SIGKILL: the connection breaks); --reconnect 0 gives up at once",
        arguments: [SIGTERM, SIGKILL])
    func waitersSurviveRestart(signal: Int32) async throws {
        let fixture = try DaemonTests.Fixture()
        let socket = fixture.socketPath
        let first = try fixture.start()
        #expect(await fixture.awaitNotification("READY=1"))
        try await Self.jobq(socket, ["pause", "held"]).expectSuccess()
        let id = try await Self.jobq(socket, ["submit", "-q", "held", "--", "true"]).stdout.trimmingCharacters(in: .newlines)
        async let waited = Self.jobq(socket, ["wait", id])
        async let joined = Self.jobq(socket, ["join", "-q", "held"])
        async let submitted = Self.jobq(socket, ["submit", "-q", "held", "--wait", "--", "sh", "-c", "exit 7"])
        async let gaveUp = Self.jobq(socket, ["wait", "--reconnect", "0", id])
        // On a terminal, the progress line's event stream is a long request too.
        async let onTerminal = Self.jobqOnTerminal(socket, ["wait", id])
        // The six long requests are held open by the first daemon (each look is one request, no sleep).
        let client = JobClient(socketPath: socket)
        while try await !client.metrics().contains("jobq_api_long_requests 6\n") {}

        kill(first.processIdentifier, signal)
        _ = await DaemonTests().exit(of: first)
        // --reconnect 0: exit 3 at the loss, without waiting for a daemon.
        let gave = try await gaveUp
        #expect(gave.status == 3, "\(gave.stderr)")
        #expect(gave.stderr.contains("jobq: jobqd went away during the wait: "), "\(gave.stderr)")

        let second = try fixture.start()
        #expect(await fixture.awaitNotification("READY=1"))
        try await Self.jobq(socket, ["resume", "held"]).expectSuccess()
        let wait = try await waited
        wait.expectSuccess()
        #expect(wait.stderr.contains("jobq: jobqd went away during the wait ("), "\(wait.stderr)")
        #expect(wait.stderr.contains("waiting up to 1m30s for it to come back at \(socket)"), "\(wait.stderr)")
        try await joined.expectSuccess()
        let terminal = try await onTerminal
        #expect(terminal.status == 0, "\(terminal.stdout)")
        #expect(terminal.stdout.contains("jobq: jobqd went away during the wait ("), "\(terminal.stdout)")
        let submit = try await submitted
        #expect(submit.status == 7, "\(submit.stderr)")
        #expect(submit.stderr.contains("went away"), "\(submit.stderr)")
        second.terminate()
        #expect(await DaemonTests().exit(of: second) == 0)
    }

    @Test("A wait whose daemon does not come back within --reconnect exits 3; its --timeout still holds (124), not the longer --reconnect")
    func waiterGivesUp() async throws {
        let fixture = try DaemonTests.Fixture()
        let socket = fixture.socketPath
        let daemon = try fixture.start()
        #expect(await fixture.awaitNotification("READY=1"))
        try await Self.jobq(socket, ["pause", "held"]).expectSuccess()
        let id = try await Self.jobq(socket, ["submit", "-q", "held", "--", "true"]).stdout.trimmingCharacters(in: .newlines)
        async let windowEnds = Self.jobq(socket, ["wait", "--reconnect", "0.2s", id])
        // The timeout must outlast the wait for both requests, on a machine as loaded as CI's.
        async let timeoutEnds = Self.jobq(socket, ["wait", "--reconnect", "1h", "--timeout", "15s", id])
        let client = JobClient(socketPath: socket)
        var waiting = false
        for _ in 0..<1_000 where !waiting {
            waiting = try await client.metrics().contains("jobq_api_long_requests 2\n")
            if !waiting { try await Task.sleep(for: .milliseconds(10)) }
        }
        try #require(waiting, "both waits reached the daemon")
        daemon.terminate()
        #expect(await DaemonTests().exit(of: daemon) == 0)
        let window = try await windowEnds
        #expect(window.status == 3, "\(window.stderr)")
        #expect(window.stderr.contains("jobq: jobqd did not come back within 200ms: cannot reach jobqd at \(socket): "),
                "\(window.stderr)")
        let timeout = try await timeoutEnds
        #expect(timeout.status == 124, "\(timeout.stderr)")
        // Normally the daemon is gone long before the 15 s pass; on a very slow machine the
        // daemon's own answer may say it first.
        #expect(timeout.stderr.contains("jobq: the timeout passed while jobqd was away: ")
                    || timeout.stderr.contains("jobq: the timeout passed; not finished: \(id)"), "\(timeout.stderr)")
    }

    @Test("logs --follow prints output as it is written and ends with the job")
    func followStreams() async throws {
        try await Self.withDaemon { fixture, socket in
            let gate = fixture.directory + "/gate"
            let id = try await Self.jobq(socket, ["submit", "--shell", "--", "echo one; while [ ! -e \(gate) ]; do sleep 0.01; done; echo two"])
                .stdout.trimmingCharacters(in: .newlines)
            let process = Process()
            process.executableURL = URL(filePath: Self.jobqPath)
            process.arguments = ["--socket", socket, "logs", "--follow", id]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let reader = output.fileHandleForReading
            // The first line arrives while the job is still blocked on the gate.
            let first = await onOwnThread { reader.availableData }
            #expect(String(decoding: first, as: UTF8.self) == "one\n")
            #expect(FileManager.default.createFile(atPath: gate, contents: nil))
            let rest = await onOwnThread { reader.readDataToEndOfFile() }
            #expect(String(decoding: rest, as: UTF8.self) == "two\n")
            #expect(await DaemonTests().exit(of: process) == 0)
        }
    }

    @Test("logs --follow cut by the daemon's stop exits 3 and says so (the answer is left incomplete, not ended as if the job were)")
    func followCutByStop() async throws {
        let fixture = try DaemonTests.Fixture()
        let gate = try fixture.fifo("gate")
        let daemon = try fixture.start(["--drain-grace", "0.1"])
        #expect(await fixture.awaitNotification("READY=1"))
        let id = try await Self.jobq(fixture.socketPath, ["submit", "--shell", "--", "echo one; cat \(gate)"])
            .stdout.trimmingCharacters(in: .newlines)
        let process = Process()
        process.executableURL = URL(filePath: Self.jobqPath)
        process.arguments = ["--socket", fixture.socketPath, "logs", "--follow", id]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // The first line arrives while the job is blocked on the gate.
        let first = await onOwnThread { output.fileHandleForReading.availableData }
        #expect(String(decoding: first, as: UTF8.self) == "one\n")
        daemon.terminate()
        #expect(await DaemonTests().exit(of: daemon) == 0)
        let message = await onOwnThread { errors.fileHandleForReading.readDataToEndOfFile() }
        #expect(await DaemonTests().exit(of: process) == 3)
        #expect(String(decoding: message, as: UTF8.self).contains("jobq: jobqd went away before job \(id) finished"))
    }

    @Test("On a terminal, wait draws a progress line and tables are coloured; NO_COLOR turns colours off")
    func terminalOutput() async throws {
        try await Self.withDaemon { _, socket in
            let id = try await Self.jobq(socket, ["submit", "--", "true"]).stdout.trimmingCharacters(in: .newlines)
            func onTerminal(_ arguments: [String], environment: [String: String] = [:]) async throws -> String {
                let run = try await Self.jobqOnTerminal(socket, arguments, environment: environment)
                #expect(run.status == 0)
                return run.stdout
            }
            let waited = try await onTerminal(["wait", id])
            #expect(waited.contains("1/1 done, 0 running, 0 failed"))
            let coloured = try await onTerminal(["list"])
            #expect(coloured.contains("\u{1B}[32msucceeded\u{1B}[0m"))
            let plain = try await onTerminal(["list"], environment: ["NO_COLOR": "1"])
            #expect(plain.contains("succeeded") && !plain.contains("\u{1B}[32m"))
        }
    }
}
