import Foundation
import JobBasics
import JobClient
import JobModel
import JobQueueTesting
import JobStore
import Testing

/// The real `jobq` against the real `jobqd` on a temporary socket and state directory.
@Suite("jobq against jobqd", .timeLimit(.minutes(2)))
struct JobqCommandTests {
    static var jobqPath: String {
        URL(filePath: DaemonTests.jobqdPath).deletingLastPathComponent().appending(path: "jobq").path()
    }

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `jobq` with `--socket` set; `stdin` is given as its input when present.
    static func jobq(_ socket: String, _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) async throws -> Run {
        let process = Process()
        process.executableURL = URL(filePath: jobqPath)
        process.arguments = ["--socket", socket] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        let errors = Pipe()
        let input = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let (out, err) = await onOwnThread {
            let out = output.fileHandleForReading.readDataToEndOfFile()
            let err = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (out, err)
        }
        return Run(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
                   stderr: String(decoding: err, as: UTF8.self))
    }

    /// Runs `jobq` under script(1), which gives it a pseudo-terminal for stdout and stderr; both
    /// come back in `stdout`.
    static func jobqOnTerminal(_ socket: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> Run {
        let process = Process()
        process.executableURL = URL(filePath: "/usr/bin/script")
        let command = ([jobqPath, "--socket", socket] + arguments).joined(separator: " ")
        process.arguments = ["-qec", command, "/dev/null"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }.filter { $0.key != "NO_COLOR" || environment["NO_COLOR"] != nil }
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = await onOwnThread { output.fileHandleForReading.readDataToEndOfFile() }
        let status = await DaemonTests().exit(of: process)
        return Run(status: status, stdout: String(decoding: data, as: UTF8.self), stderr: "")
    }

    /// A started daemon and its socket; `config`, when given, is its config file's text.
    static func withDaemon(
        config: String? = nil, _ body: (DaemonTests.Fixture, String) async throws -> Void
    ) async throws {
        let fixture = try DaemonTests.Fixture()
        var arguments: [String] = []
        if let config {
            let path = fixture.directory + "/jobqd.conf"
            try config.write(toFile: path, atomically: true, encoding: .utf8)
            arguments = ["--config", path]
        }
        let daemon = try fixture.start(arguments)
        #expect(await fixture.awaitNotification("READY=1"))
        try await body(fixture, fixture.socketPath)
        daemon.terminate()
        #expect(await DaemonTests().exit(of: daemon) == 0)
    }

    @Test("The README's quick start: submit prints the id alone, wait exits 0, logs prints the output")
    func quickStart() async throws {
        try await Self.withDaemon { _, socket in
            let submitted = try await Self.jobq(socket, ["submit", "--", "echo", "hi"])
            #expect(submitted.status == 0)
            let id = submitted.stdout.trimmingCharacters(in: .newlines)
            #expect(JobID(id) != nil && submitted.stdout == id + "\n")
            #expect(try await Self.jobq(socket, ["wait", id]).status == 0)
            #expect(try await Self.jobq(socket, ["logs", id]).stdout == "hi\n")
        }
    }

    @Test("Exit codes: 1 for a failed job, the job's own with submit --wait, 124 at a timeout, 4 when refused, 2 for usage")
    func exitCodes() async throws {
        try await Self.withDaemon { _, socket in
            let failing = try await Self.jobq(socket, ["submit", "--", "sh", "-c", "exit 3"]).stdout.trimmingCharacters(in: .newlines)
            let wait = try await Self.jobq(socket, ["wait", failing])
            #expect(wait.status == 1)
            #expect(wait.stderr.contains("job \(failing) failed (exit 3)"))
            let own = try await Self.jobq(socket, ["submit", "--wait", "--", "sh", "-c", "exit 7"])
            #expect(own.status == 7)
            try await Self.jobq(socket, ["pause", "held"]).expectSuccess()
            let held = try await Self.jobq(socket, ["submit", "--queue", "held", "--", "true"]).stdout.trimmingCharacters(in: .newlines)
            let timedOut = try await Self.jobq(socket, ["wait", "--timeout", "0s", held])
            #expect(timedOut.status == 124)
            let refused = try await Self.jobq(socket, ["retry", held])
            #expect(refused.status == 4)
            #expect(refused.stderr.contains("(conflict)"))
            let missing = try await Self.jobq(socket, ["show", "999999"])
            #expect(missing.status == 4)
            #expect(missing.stderr.contains("(not_found)"))
            #expect(try await Self.jobq(socket, ["submit", "--timeout", "-5s", "--", "true"]).status == 2)
            #expect(try await Self.jobq(socket, ["submit"]).status == 2)
        }
    }

    @Test("An unreachable daemon: exit 3, naming the socket and how to start the daemon")
    func unreachable() async throws {
        let missing = "/tmp/jobq-nothing-\(UUID())/jobq.sock"
        let run = try await Self.jobq(missing, ["status"])
        #expect(run.status == 3)
        #expect(run.stderr.contains(missing))
        #expect(run.stderr.contains("start it with `jobqd`"))
        let fromEnvironment = try await Self.jobq(missing, ["--help"], environment: ["JOBQ_SOCKET": missing])
        #expect(fromEnvironment.status == 0)
    }

    @Test("jobq's quick submit path (C library only) stores what jobq-cli stores, and fails as it does")
    func quickSubmitMatchesFullClient() async throws {
        try await Self.withDaemon { fixture, socket in
            // --retries 0 changes nothing in the spec but is not taken by the quick path: jobq-cli submits.
            // Bytes JSON escapes (a quote, a backslash, a tab, a control byte) and non-ASCII text.
            let command = ["printf", "%s;$(x)\n", "a b", "\"\\\t\u{1}é"]
            let quick = try await Self.jobq(socket, ["submit", "-q", "qa", "--priority=5", "--"] + command)
            let full = try await Self.jobq(socket, ["submit", "--retries", "0", "-q", "qa", "--priority=5", "--"] + command)
            let quickShell = try await Self.jobq(socket, ["submit", "--shell", "--", "echo", "one;", "echo", "two"])
            let fullShell = try await Self.jobq(socket, ["submit", "--retries", "0", "--shell", "--", "echo", "one;", "echo", "two"])
            for run in [quick, full, quickShell, fullShell] {
                run.expectSuccess()
                #expect(JobID(run.stdout.trimmingCharacters(in: .newlines)) != nil && run.stdout.hasSuffix("\n"))
            }
            // The stored specs, read beside the running daemon (WAL lets a reader in).
            let store = try await fixture.open()
            var specs: [JobSpec] = []
            for run in [quick, full, quickShell, fullShell] {
                if let id = JobID(run.stdout.trimmingCharacters(in: .newlines)), let job = try await store.job(id) {
                    specs.append(job.spec)
                }
            }
            await store.close()
            try #require(specs.count == 4)
            #expect(specs[0] == specs[1])
            #expect(specs[0].command == .argv(command) && specs[0].queue == "qa" && specs[0].priority == 5)
            #expect(specs[2] == specs[3])
            #expect(specs[2].command == .shell("echo one; echo two"))

            let missing = fixture.directory + "/missing.sock"
            let quickMissing = try await Self.jobq(missing, ["submit", "--", "true"])
            let fullMissing = try await Self.jobq(missing, ["submit", "--retries", "0", "--", "true"])
            #expect(quickMissing.status == 3 && fullMissing.status == 3)
            #expect(quickMissing.stderr == fullMissing.stderr)
            // What jobq-cli refuses (a bad queue name) reaches it, for its usage message and exit 2.
            #expect(try await Self.jobq(socket, ["submit", "-q", "-bad", "--", "true"]).status == 2)
            // A value that looks like an option is jobq-cli's to judge: it refuses `-p -5`.
            #expect(try await Self.jobq(socket, ["submit", "-p", "-5", "--", "true"]).status == 2)
        }
    }

    @Test("The quick submit path asks for text/plain and reads a refusal like jobq-cli: its message and code, exit 4")
    func quickSubmitRefused() async throws {
        let directory = try makeTemporaryDirectory("jobq-refusal")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A one-connection stand-in for the daemon that refuses with a canned answer, in the form
        // jobqd gives `Accept: text/plain` (`code: message`, with a Content-Length); a chunked
        // answer, which jobqd never gives it, is unexpected (exit 3).
        let server = #"""
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(sys.argv[1]); s.listen(1)
            print("ready", flush=True)
            c, _ = s.accept(); request = c.recv(65536)
            assert b"\r\nAccept: text/plain\r\n" in request, request
            body = 'shutting_down: jobqd is stopping: "later"\u00e9\n'.encode()
            if sys.argv[2] == "chunked":
                c.sendall(b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n"
                          + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
            else:
                c.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            c.close()
            """#
        for encoding in ["length", "chunked"] {
            let socket = directory + "/\(encoding).sock"
            let process = Process()
            process.executableURL = URL(filePath: "/usr/bin/env")
            process.arguments = ["python3", "-c", server, socket, encoding]
            let ready = Pipe()
            process.standardOutput = ready
            try process.run()
            _ = await onOwnThread { ready.fileHandleForReading.availableData }
            let run = try await Self.jobq(socket, ["submit", "--", "true"])
            if encoding == "length" {
                #expect(run.status == 4)
                #expect(run.stderr == "jobq: jobqd is stopping: \"later\"\u{e9} (shutting_down)\n")
            } else {
                #expect(run.status == 3)
                #expect(run.stderr == "jobq: unexpected answer from jobqd: an answer without Content-Length\n")
            }
            #expect(await DaemonTests().exit(of: process) == 0)
        }
    }

    @Test("--json: list gives an array of jobs with the stable fields; show, status and submit parse")
    func jsonOutput() async throws {
        try await Self.withDaemon { _, socket in
            let id = try await Self.jobq(socket, ["submit", "--label", "build", "--priority", "5", "--", "true"]).stdout
                .trimmingCharacters(in: .newlines)
            #expect(try await Self.jobq(socket, ["wait", id]).status == 0)
            let list = try await Self.jobq(socket, ["list", "--json", "--label", "build"])
            let jobs = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
            #expect(jobs.count == 1)
            let job = jobs[0]
            for key in ["id", "state", "queue", "command", "priority", "attempts", "exit_code", "created_at", "started_at", "finished_at"] {
                #expect(job.keys.contains(key), "missing \(key)")
            }
            #expect(job["id"] as? Int == Int(id))
            #expect(job["state"] as? String == "succeeded")
            #expect(job["priority"] as? Int == 5)
            #expect(job["command"] as? String == "true")
            #expect(job["exit_code"] as? Int == 0)
            let show = try await Self.jobq(socket, ["show", "--json", id])
            #expect((try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])?["label"] as? String == "build")
            let status = try await Self.jobq(socket, ["status", "--json"])
            #expect(((try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["states"] as? [String: Int])?["succeeded"] == 1)
            let human = try await Self.jobq(socket, ["list"], environment: ["NO_COLOR": "1"])
            #expect(human.stdout.hasPrefix("ID"))
            #expect(!human.stdout.contains("\u{1B}["))
        }
    }

    @Test("--stdin submits one job per line as one batch and prints one id per line")
    func stdinBatch() async throws {
        try await Self.withDaemon { _, socket in
            let run = try await Self.jobq(socket, ["submit", "--stdin"], stdin: "echo one\n\necho two > /dev/null\nexit 4\n")
            #expect(run.status == 0)
            let ids = run.stdout.split(separator: "\n").map(String.init)
            #expect(ids.count == 3)
            let waited = try await Self.jobq(socket, ["wait", "--json"] + ids)
            #expect(waited.status == 1)
            let result = try #require(try JSONSerialization.jsonObject(with: Data(waited.stdout.utf8)) as? [String: Any])
            let states = (result["jobs"] as? [[String: Any]])?.map { $0["state"] as? String }
            #expect(states == ["succeeded", "succeeded", "failed"])
            #expect(try await Self.jobq(socket, ["submit", "--stdin"], stdin: "\n \n").status == 2)
        }
    }

    @Test("--stdin --split runs each line as a program and its arguments, without a shell")
    func stdinSplit() async throws {
        try await Self.withDaemon { _, socket in
            let run = try await Self.jobq(socket, ["submit", "--stdin", "--split"], stdin: "printf %s|  a\t$HOME  '*' \n\nfalse\n")
            #expect(run.status == 0)
            let ids = run.stdout.split(separator: "\n").map(String.init)
            #expect(ids.count == 2)
            #expect(try await Self.jobq(socket, ["wait"] + ids).status == 1)
            let shown = try await Self.jobq(socket, ["show", "--json", ids[0]])
            let job = try #require(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
            #expect(job["argv"] as? [String] == ["printf", "%s|", "a", "$HOME", "'*'"])
            #expect(try await Self.jobq(socket, ["logs", ids[0]]).stdout == "a|$HOME|'*'|")
            #expect(try await Self.jobq(socket, ["submit", "--split", "--", "true"]).status == 2)
            #expect(try await Self.jobq(socket, ["submit", "--stdin", "--split", "--shell"], stdin: "true\n").status == 2)
        }
    }

    /// 40,000 lines of ~40 bytes: over 1 MiB however each spec is encoded.
    static let overOneMiB = String(repeating: "echo a line of moderate length here\n", count: 40_000)

    @Test("--stdin over the daemon's body limit is refused whole (exit 4), says how to split it, and stores nothing")
    func stdinOverTheBodyLimit() async throws {
        try await Self.withDaemon { _, socket in
            let run = try await Self.jobq(socket, ["submit", "--stdin"], stdin: Self.overOneMiB)
            #expect(run.status == 4)
            #expect(run.stdout.isEmpty)
            #expect(run.stderr.contains("payload_too_large"))
            #expect(run.stderr.contains("40000 commands"))
            #expect(run.stderr.contains("split -l"))
            #expect(run.stderr.contains("max_body_bytes"))
            let list = try await Self.jobq(socket, ["list", "--json"])
            #expect(list.status == 0)
            #expect((try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [Any])?.isEmpty == true)
        }
    }

    @Test("max_body_bytes raises the limit: the same 40,000 lines are stored as one batch")
    func raisedBodyLimit() async throws {
        try await Self.withDaemon(config: "max_body_bytes = 16777216\n") { _, socket in
            #expect(try await Self.jobq(socket, ["pause"]).status == 0)
            let run = try await Self.jobq(socket, ["submit", "--stdin"], stdin: Self.overOneMiB)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.split(separator: "\n").count == 40_000)
            let status = try await Self.jobq(socket, ["status", "--json"])
            #expect(((try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["states"] as? [String: Int])?["queued"] == 40_000)
        }
    }

    @Test("An argv command is never given to a shell: ; $() quotes and newlines reach the program unchanged")
    func argvIsNotInterpreted() async throws {
        try await Self.withDaemon { _, socket in
            let arguments = ["a;b", "$(touch /tmp/jobq-pwned)", "it's \"quoted\"", "two\nlines", "`id`", "*"]
            let id = try await Self.jobq(socket, ["submit", "--", "printf", "%s|"] + arguments).stdout.trimmingCharacters(in: .newlines)
            #expect(try await Self.jobq(socket, ["wait", id]).status == 0)
            #expect(try await Self.jobq(socket, ["logs", id]).stdout == arguments.map { $0 + "|" }.joined())
            #expect(!FileManager.default.fileExists(atPath: "/tmp/jobq-pwned"))
        }
    }

    @Test("cancel, retry, pause, resume, workers, join, prune, version")
    func control() async throws {
        try await Self.withDaemon { _, socket in
            #expect(try await Self.jobq(socket, ["pause"]).stdout == "queue default paused (0 running, 0 queued)\n")
            let id = try await Self.jobq(socket, ["submit", "--", "true"]).stdout.trimmingCharacters(in: .newlines)
            #expect(try await Self.jobq(socket, ["cancel", id]).stdout == "\(id) cancelled\n")
            #expect(try await Self.jobq(socket, ["retry", id]).stdout == "\(id) queued again\n")
            #expect(try await Self.jobq(socket, ["workers", "default", "3"]).stdout.contains("default        3"))
            let workers = try await Self.jobq(socket, ["workers", "--json"])
            #expect((try JSONSerialization.jsonObject(with: Data(workers.stdout.utf8)) as? [[String: Any]])?.first?["concurrency"] as? Int == 3)
            #expect(try await Self.jobq(socket, ["join", "--timeout", "0s"]).status == 124)
            #expect(try await Self.jobq(socket, ["resume"]).stdout == "queue default resumed\n")
            #expect(try await Self.jobq(socket, ["join", "--queue", "default"]).status == 0)
            #expect(try await Self.jobq(socket, ["show", "--json", id]).stdout.contains(#""state":"succeeded""#))
            #expect(try await Self.jobq(socket, ["prune", "--older-than", "1h"]).stdout == "pruned 0 jobs\n")
            #expect(try await Self.jobq(socket, ["prune", "--older-than", "0s"]).stdout == "pruned 1 job\n")
            let version = try await Self.jobq(socket, ["version"])
            #expect(version.stdout == "jobq \(JobqVersion.current)\njobqd \(JobqVersion.current)\n")
        }
    }

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
        async let timeoutEnds = Self.jobq(socket, ["wait", "--reconnect", "1h", "--timeout", "2s", id])
        let client = JobClient(socketPath: socket)
        while try await !client.metrics().contains("jobq_api_long_requests 2\n") {}
        daemon.terminate()
        #expect(await DaemonTests().exit(of: daemon) == 0)
        let window = try await windowEnds
        #expect(window.status == 3, "\(window.stderr)")
        #expect(window.stderr.contains("jobq: jobqd did not come back within 200ms: cannot reach jobqd at \(socket): "),
                "\(window.stderr)")
        let timeout = try await timeoutEnds
        #expect(timeout.status == 124, "\(timeout.stderr)")
        // Normally the daemon is gone long before the 2 s pass; on a very slow machine the
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

    @Test("Jobs record the submitter's uid from the socket's peer credentials")
    func peerCredentials() async throws {
        try await Self.withDaemon { _, socket in
            let id = try await Self.jobq(socket, ["submit", "--", "true"]).stdout.trimmingCharacters(in: .newlines)
            let show = try await Self.jobq(socket, ["show", "--json", id])
            #expect((try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])?["submitter_uid"] as? Int == Int(getuid()))
        }
    }

    @Test("Events: a subscriber sees submitted, started and finished for a job")
    func events() async throws {
        try await Self.withDaemon { _, socket in
            let client = JobClient(socketPath: socket)
            let (connected, signal) = AsyncStream<Void>.makeStream()
            async let kinds = {
                var kinds: [String] = []
                try await client.events(connected: { signal.finish() }) { event in
                    kinds.append(event.kind)
                    return event.kind != "finished"
                }
                return kinds
            }()
            for await _ in connected {}
            _ = try await client.submit(JobSpec(argv: ["true"]))
            #expect(try await kinds == ["submitted", "started", "finished"])
        }
    }
}

extension JobqCommandTests.Run {
    func expectSuccess(sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(status == 0, "\(stderr)", sourceLocation: sourceLocation)
    }
}
