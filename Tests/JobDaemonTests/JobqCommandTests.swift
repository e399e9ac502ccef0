import Foundation
import JobBasics
import JobClient
import JobModel
import JobQueueTesting
import JobStore
import JobStoring
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
        if let stdin { input.fileHandleForWriting.writeAll(Data(stdin.utf8)) }
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
    static func jobqOnTerminal(
        _ socket: String, _ arguments: [String], environment: [String: String] = [:], input: String? = nil
    ) async throws -> Run {
        let process = Process()
        process.executableURL = URL(filePath: "/usr/bin/script")
        let command = ([jobqPath, "--socket", socket] + arguments).joined(separator: " ")
        process.arguments = ["-qec", command, "/dev/null"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }.filter { $0.key != "NO_COLOR" || environment["NO_COLOR"] != nil }
        let output = Pipe()
        process.standardOutput = output
        // script(1) passes its input to the terminal it makes (a person typing an answer).
        let typed = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : typed
        try process.run()
        if let input {
            typed.fileHandleForWriting.writeAll(Data(input.utf8))
            try typed.fileHandleForWriting.close()
        }
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

    @Test("submit prints the id alone, wait exits 0, logs prints the output")
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
            let ids = [quick, full, quickShell, fullShell].compactMap { JobID($0.stdout.trimmingCharacters(in: .newlines)) }
            let specs = try await fixture.withStore { store in
                var specs: [JobSpec] = []
                for id in ids { if let job = try await store.job(id) { specs.append(job.spec) } }
                return specs
            }
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
            // A value that looks like an option is jobq-cli's to judge: it takes `-p -5` as a number.
            let negative = try await Self.jobq(socket, ["submit", "-p", "-5", "--", "true"])
            #expect(negative.status == 0, "\(negative.stderr)")
            let shown = try await Self.jobq(socket, ["show", negative.stdout.trimmingCharacters(in: .newlines)])
            #expect(shown.stdout.contains("priority -5"))
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
