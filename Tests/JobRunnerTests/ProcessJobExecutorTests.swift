import Foundation
import JobModel
import JobQueueTesting
@testable import JobRunner
import Testing

func job(_ command: Command, id: JobID = 1, cwd: String? = nil, env: [String: String] = [:], timeout: Duration? = nil) -> Job {
    var spec = JobSpec(command: command, cwd: cwd, env: env)
    spec.timeout = timeout
    return Job(id: id, spec: spec, state: .running, attempts: 1,
               createdAt: Timestamp(millisecondsSinceEpoch: 0), updatedAt: Timestamp(millisecondsSinceEpoch: 0))
}

func executor(_ directory: String, outputLimit: Int = 1 << 20, killGrace: Duration = .seconds(5),
              environment: [String: String]? = nil, stateDirectory: String? = nil) -> ProcessJobExecutor {
    var configuration = ProcessExecutorConfiguration(
        logDirectory: directory, workingDirectory: directory, outputLimit: outputLimit, killGrace: killGrace,
        stateDirectory: stateDirectory)
    if let environment { configuration.environment = environment }
    return ProcessJobExecutor(configuration: configuration, launcher: testLauncher)
}

func contents(_ path: String) -> String {
    (try? String(contentsOfFile: path, encoding: .utf8)) ?? "<missing>"
}

/// The value of a field of a /proc `status` file's text (`SigBlk:`, `SigIgn:`...), trimmed.
func statusField(_ name: String, in status: String) -> String? {
    status.split(separator: "\n").first { $0.hasPrefix(name) }
        .map { $0.dropFirst(name.count).trimmingCharacters(in: .whitespaces) }
}

/// A FIFO the test reads to learn when a grandchild dies: the grandchild holds its write end
/// (`… 3> FIFO &`), and a read returns end-of-file once every writer is gone. The read end is
/// opened (non-blocking) before the job starts, so that the grandchild's open does not wait.
struct DeathWatch {
    let fd: Int32

    init(_ path: String) throws {
        guard mkfifo(path, 0o600) == 0 else { throw POSIXError(.EEXIST) }
        fd = open(path, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else { throw POSIXError(.EIO) }
    }

    /// Returns once the grandchild (every writer) has closed the FIFO: the kernel's word for
    /// its death, not a sleep or a poll. Call it only after the grandchild said it started.
    func awaitDeath() async {
        let fd = self.fd
        await onOwnThread {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            var byte: UInt8 = 0
            while read(fd, &byte, 1) > 0 {}
            close(fd)
        }
    }
}

/// The first line the job writes into the FIFO at `path` (the job saying it is ready): a
/// readiness signal from the job itself, not a sleep.
func awaitLine(fromFIFO path: String) async -> String {
    await onOwnThread {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        var bytes: [UInt8] = []
        while let chunk = try? handle.read(upToCount: 1), let byte = chunk.first, byte != UInt8(ascii: "\n") {
            bytes.append(byte)
        }
        try? handle.close()
        return String(decoding: bytes, as: UTF8.self)
    }
}

@Suite("ProcessJobExecutor", .timeLimit(.minutes(1)))
struct ProcessJobExecutorTests {
    @Test("Exit statuses: 0 is success, others are reported as they are")
    func exitStatuses() async throws {
        try await withTemporaryDirectory("jobq-runner") { directory in
            let runner = executor(directory)
            #expect(await runner.run(job(.argv(["true"]))) == .exited(code: 0))
            #expect(await runner.run(job(.argv(["false"]))) == .exited(code: 1))
            let three = await runner.run(job(.shell("exit 3")))
            #expect(three == .exited(code: 3))
            #expect(three.completion == .failed(exitCode: 3, signal: nil, reason: "exited with status 3"))
            #expect(await runner.run(job(.argv(["true"]))).completion == .succeeded)
        }
    }

    @Test("argv reaches the program verbatim: no shell, no splitting, no globbing")
    func argvVerbatim() async throws {
        try await withTemporaryDirectory("jobq-runner") { directory in
            let outcome = await executor(directory).run(job(.argv(["printf", "%s|", "a b", "$HOME", "*", "'q'"]), id: 7))
            #expect(outcome == .exited(code: 0))
            #expect(contents(directory + "/7.out") == "a b|$HOME|*|'q'|")
        }
    }

    @Test("stdout and stderr go to their own files; the job's cwd and env apply; systemd's variables do not")
    func filesEnvironmentAndDirectory() async throws {
        try await withTemporaryDirectory("jobq-runner") { directory in
            let base = ProcessExecutorConfiguration.jobEnvironment(from: [
                "PATH": "/usr/bin:/bin", "KEEP": "kept", "NOTIFY_SOCKET": "/run/systemd/notify", "LISTEN_FDS": "1",
                "INVOCATION_ID": "abc",
            ])
            #expect(base == ["PATH": "/usr/bin:/bin", "KEEP": "kept"])
            let runner = executor(directory, environment: base)
            let outcome = await runner.run(job(
                .shell(#"echo "out $KEEP $EXTRA $JOBQ_JOB_ID $JOBQ_QUEUE $JOBQ_ATTEMPT ${NOTIFY_SOCKET:-none}"; pwd; echo err >&2"#),
                id: 42, cwd: "/usr", env: ["EXTRA": "extra", "KEEP": "overridden"]))
            #expect(outcome == .exited(code: 0))
            #expect(contents(directory + "/42.out") == "out overridden extra 42 default 1 none\n/usr\n")
            #expect(contents(directory + "/42.err") == "err\n")
            let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/42.out")
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
        }
    }

    @Test("A job killed by a signal reports the signal")
    func signals() async throws {
        try await withTemporaryDirectory("jobq-runner") { directory in
            let outcome = await executor(directory).run(job(.shell("kill -USR1 $$")))
            #expect(outcome == .signaled(signal: SIGUSR1))
            #expect(outcome.completion == .failed(exitCode: nil, signal: SIGUSR1, reason: "killed by signal 10 (signal 10)"))
        }
    }

    /// Runs a shell job whose leader (after `leader`, a prefix such as a trap) starts a
    /// grandchild `sh -c '<grandchild>echo started > READY; exec sleep 300'` holding fd 3 on a
    /// FIFO; stops it by `timeout`, or by cancelling the run when `timeout` is nil; returns the
    /// outcome once the grandchild has died (the kernel's end-of-file on that FIFO, not a sleep;
    /// the suite's time limit fails a test whose grandchild survives).
    func stopJob(leader: String = "", grandchild: String = "", killGrace: Duration = .seconds(5),
                 timeout: Duration?, byRequest: Bool = false) async throws -> JobOutcome {
        try await withTemporaryDirectory("jobq-runner") { directory in
            let ready = directory + "/ready"
            #expect(mkfifo(ready, 0o600) == 0)
            let alive = try DeathWatch(directory + "/alive")
            let runner = executor(directory, killGrace: killGrace)
            let command = job(
                .shell("\(leader)sh -c '\(grandchild)echo started > \(ready); exec sleep 300' 3> \(directory)/alive & wait"),
                timeout: timeout)
            let stop = RunStop()
            let outcome = await withTaskGroup(of: JobOutcome.self) { group in
                group.addTask { await runner.run(command, stop: stop) }
                #expect(await awaitLine(fromFIFO: ready) == "started")
                if timeout == nil {
                    if byRequest { stop.request() } else { group.cancelAll() }
                }
                return await group.next()
            }
            await alive.awaitDeath()
            return try #require(outcome)
        }
    }

    @Test("A timeout stops the whole process group: SIGTERM first")
    func timeoutKillsTheGroup() async throws {
        let outcome = try await stopJob(timeout: .milliseconds(300))
        #expect(outcome == .timedOut(after: .milliseconds(300), signal: SIGTERM))
        #expect(outcome.description == "timed out after 0.3 s and was stopped")
    }

    @Test("A job that ignores SIGTERM is killed with SIGKILL after the grace period, grandchildren too")
    func graceThenKill() async throws {
        let outcome = try await stopJob(leader: "trap '' TERM; ", killGrace: .milliseconds(200), timeout: .milliseconds(200))
        #expect(outcome == .timedOut(after: .milliseconds(200), signal: SIGKILL))
    }

    @Test("A grandchild that ignores SIGTERM does not outlive a leader that obeyed it")
    func grandchildIgnoringTerm() async throws {
        let outcome = try await stopJob(grandchild: #"trap "" TERM; "#, killGrace: .seconds(30), timeout: .milliseconds(200))
        #expect(outcome == .timedOut(after: .milliseconds(200), signal: SIGTERM))
    }

    @Test("Cancelling the run stops the job's whole group and reports a cancellation")
    func cancellation() async throws {
        #expect(try await stopJob(timeout: nil) == .cancelled(signal: SIGTERM))
    }

    @Test("A stop request from another task stops the job's whole group and reports a cancellation, as cancelling the run does")
    func stopRequest() async throws {
        #expect(try await stopJob(timeout: nil, byRequest: true) == .cancelled(signal: SIGTERM))
    }

    @Test("A bare program name runs the first executable file of that name on the job's PATH, as execvp finds it")
    func searchPath() async throws {
        try await withTemporaryDirectory("jobq-runner") { directory in
            let manager = FileManager.default
            func script(_ path: String, printing text: String, mode: Int) throws {
                try "#!/bin/sh\necho \(text)\n".write(toFile: path, atomically: false, encoding: .utf8)
                try manager.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
            }
            // In search order: a relative entry (skipped, as swift-subprocess skips it), a directory
            // named like the program, a file without the execute bit, then two real candidates.
            try manager.createDirectory(atPath: directory + "/relative", withIntermediateDirectories: true)
            try script(directory + "/relative/tool", printing: "relative", mode: 0o755)
            for name in ["d1/tool", "d2", "d3", "d4"] {
                try manager.createDirectory(atPath: directory + "/" + name, withIntermediateDirectories: true)
            }
            try script(directory + "/d2/tool", printing: "d2", mode: 0o644)
            try script(directory + "/d3/tool", printing: "d3", mode: 0o755)
            try script(directory + "/d4/tool", printing: "d4", mode: 0o755)
            let path = "relative::\(directory)/d1:\(directory)/d2/:\(directory)/d3:\(directory)/d4"
            // Resolved in the daemon, so that the job is spawned once (not once per directory).
            #expect(ProcessJobExecutor.find("tool", onSearchPath: path) == directory + "/d3/tool")
            #expect(ProcessJobExecutor.find("no-such-tool-jobq", onSearchPath: path) == nil)
            #expect(ProcessJobExecutor.find("tool", onSearchPath: nil) == nil)
            let runner = executor(directory, environment: ["PATH": path])
            let ran = await runner.run(job(.argv(["tool", "x"]), id: 7))
            #expect(ran == .exited(code: 0))
            #expect(contents(directory + "/7.out") == "d3\n")
            // Not on the PATH at all: the same spawn failure as before, naming the program.
            let missing = await runner.run(job(.argv(["no-such-tool-jobq"]), id: 8))
            guard case .spawnFailed(_, let message) = missing else {
                Issue.record("expected a spawn failure, got \(missing)")
                return
            }
            #expect(message.contains("no-such-tool-jobq"))
        }
    }

    @Test("Spawn errors: a missing program, a missing working directory, an unwritable log directory")
    func spawnErrors() async throws {
        try await withTemporaryDirectory("jobq-runner") { directory in
            let runner = executor(directory)
            let missing = await runner.run(job(.argv(["no-such-program-jobq"])))
            guard case .spawnFailed(_, let message) = missing else {
                Issue.record("expected a spawn failure, got \(missing)")
                return
            }
            #expect(message.contains("no-such-program-jobq"))
            let absolute = await runner.run(job(.argv(["/nonexistent/bin/x"])))
            guard case .spawnFailed = absolute else {
                Issue.record("expected a spawn failure, got \(absolute)")
                return
            }
            let badDirectory = await runner.run(job(.argv(["true"]), cwd: "/nonexistent-dir-jobq"))
            guard case .spawnFailed(let code, let text) = badDirectory else {
                Issue.record("expected a spawn failure, got \(badDirectory)")
                return
            }
            #expect(code == ENOENT)
            #expect(text.contains("/nonexistent-dir-jobq"))
            let noLogs = await executor(directory + "/missing").run(job(.argv(["true"])))
            guard case .spawnFailed(ENOENT?, let why) = noLogs else {
                Issue.record("expected a spawn failure, got \(noLogs)")
                return
            }
            #expect(why.contains("output file"))
        }
    }

    @Test("Output files exist only when a stream carried bytes; a new attempt's files replace the last one's")
    func lazyOutputFiles() async throws {
        try await withTemporaryDirectory("jobq-runner") { directory in
            let runner = executor(directory)
            #expect(await runner.run(job(.argv(["true"]), id: 8)) == .exited(code: 0))
            #expect(!FileManager.default.fileExists(atPath: directory + "/8.out"))
            #expect(!FileManager.default.fileExists(atPath: directory + "/8.err"))
            #expect(await runner.run(job(.shell("echo first; echo oops >&2"), id: 9)) == .exited(code: 0))
            #expect(contents(directory + "/9.out") == "first\n")
            #expect(await runner.run(job(.shell("echo second"), id: 9)) == .exited(code: 0))
            #expect(contents(directory + "/9.out") == "second\n")
            #expect(!FileManager.default.fileExists(atPath: directory + "/9.err"))
        }
    }

    @Test("A job's background child and the daemon it forked (setsid) do not outlive the job", .timeLimit(.minutes(1)))
    func leftoversAreStopped() async throws {
        try await withTemporaryDirectory("jobq-runner") { directory in
            let child = try DeathWatch(directory + "/child")
            let daemon = try DeathWatch(directory + "/daemon")
            // Both hold their FIFO's write end until they die; the leader exits at once.
            let outcome = await executor(directory, stateDirectory: directory).run(job(.shell("""
                sleep 300 3> \(directory)/child &
                setsid sleep 300 3> \(directory)/daemon > /dev/null 2>&1 < /dev/null &
                echo started
                """), id: 6))
            #expect(outcome == .exited(code: 0))
            #expect(contents(directory + "/6.out") == "started\n")
            await child.awaitDeath()
            await daemon.awaitDeath()
        }
    }

    @Test("Output beyond the cap is dropped, the job is not blocked, and the file says so")
    func outputCap() async throws {
        try await withTemporaryDirectory("jobq-runner") { directory in
            let outcome = await executor(directory, outputLimit: 1000).run(
                job(.shell("head -c 300000 /dev/zero | tr '\\0' x"), id: 5))
            #expect(outcome == .exited(code: 0))
            let text = contents(directory + "/5.out")
            #expect(text.hasPrefix(String(repeating: "x", count: 1000) + "\n[jobq: output truncated after 1000 bytes; 299000 more bytes dropped]"))
        }
    }

    @Test("argv[0] reaches the program as the job gave it, not as the search resolved it")
    func argvZero() async throws {
        try await withTemporaryDirectory("jobq-runner") { directory in
            let outcome = await executor(directory).run(job(.argv(["sh", "-c", "tr '\\0' ' ' < /proc/$$/cmdline"]), id: 3))
            #expect(outcome == .exited(code: 0))
            #expect(contents(directory + "/3.out").hasPrefix("sh -c "))
        }
    }

    @Test("A run cancelled before its process starts starts nothing and reports a cancellation")
    func cancelledBeforeStart() async throws {
        try await withTemporaryDirectory("jobq-runner") { directory in
            let runner = executor(directory)
            let marker = directory + "/ran"
            let outcome = await withTaskGroup(of: JobOutcome.self) { group in
                group.addTask {
                    withUnsafeCurrentTask { $0?.cancel() }
                    return await runner.run(job(.shell("touch \(marker)"), id: 4))
                }
                return await group.next()!
            }
            #expect(outcome == .cancelled(signal: nil))
            #expect(!FileManager.default.fileExists(atPath: marker))
            // A stop requested before the run starts it does the same.
            let stop = RunStop()
            stop.request()
            #expect(await runner.run(job(.shell("touch \(marker)"), id: 4), stop: stop) == .cancelled(signal: nil))
            #expect(!FileManager.default.fileExists(atPath: marker))
        }
    }

    @Test("Many jobs at once, some closing their output early and running on while others start: each ends with its own status and output")
    func manyAtOnce() async throws {
        try await withTemporaryDirectory("jobq-runner") { directory in
            let runner = executor(directory)
            let count = 120
            let outcomes = await withTaskGroup(of: (Int, JobOutcome).self) { group in
                for index in 0..<count {
                    // Every third job closes both streams at once and exits later, after the
                    // jobs started meanwhile have taken the descriptor numbers it gave back.
                    let line = index % 3 == 0
                        ? "echo early \(index); exec >&- 2>&-; sleep 0.05; exit \(index % 7)"
                        : "echo out \(index); echo err \(index) >&2; exit \(index % 7)"
                    group.addTask { (index, await runner.run(job(.shell(line), id: JobID(Int64(index + 1))))) }
                }
                var outcomes: [Int: JobOutcome] = [:]
                for await (index, outcome) in group { outcomes[index] = outcome }
                return outcomes
            }
            for index in 0..<count {
                #expect(outcomes[index] == .exited(code: Int32(index % 7)), "job \(index)")
                let out = contents(directory + "/\(index + 1).out")
                #expect(out == (index % 3 == 0 ? "early \(index)\n" : "out \(index)\n"), "job \(index)")
                if index % 3 != 0 { #expect(contents(directory + "/\(index + 1).err") == "err \(index)\n") }
            }
        }
    }

    @Test("A job that writes without pause does not hold up the others; cancelling it stops it")
    func prolificWriter() async throws {
        try await withTemporaryDirectory("jobq-runner") { directory in
            let runner = executor(directory, outputLimit: 1 << 16)
            let ready = directory + "/ready"
            #expect(mkfifo(ready, 0o600) == 0)
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    let writer = job(.shell("echo started > \(ready); exec yes"), id: 1)
                    #expect(await runner.run(writer) == .cancelled(signal: SIGTERM))
                }
                #expect(await awaitLine(fromFIFO: ready) == "started")
                // The writer writes on while the other jobs start and end.
                let other = await runner.run(job(.shell("echo second"), id: 2))
                #expect(other == .exited(code: 0))
                #expect(contents(directory + "/2.out") == "second\n")
                for index in 3...20 {
                    #expect(await runner.run(job(.argv(["true"]), id: JobID(Int64(index)))) == .exited(code: 0))
                }
                group.cancelAll()
            }
            let written = try FileManager.default.attributesOfItem(atPath: directory + "/1.out")[.size] as? Int
            #expect((written ?? 0) > 1 << 16)  // the cap, then the note on what was dropped
        }
    }
}
