import Foundation
import JobClient
import JobModel
import JobQueueTesting
import Synchronization
import Testing

/// What a client can do to the socket: oversized requests, stalled requests, leaving in the
/// middle of a long request, and a socket handed over by socket activation.
@Suite("jobqd's socket", .timeLimit(.minutes(2)))
struct SocketTests {
    /// A raw connection to a Unix socket.
    final class RawConnection {
        let fd: Int32

        init(_ path: String) throws {
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard connected == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        }

        deinit { close(fd) }

        /// Sends `text`; a connection the daemon closed fails the send (no SIGPIPE).
        func send(_ text: String) {
            _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }

        /// One response, read up to the end of its `Content-Length` body, leaving the connection open.
        func readResponse() async -> String {
            let fd = self.fd
            return await onOwnThread {
                var data: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let text = String(decoding: data, as: UTF8.self)
                    if let end = text.range(of: "\r\n\r\n") {
                        let length = text[..<end.lowerBound].split(separator: "\r\n")
                            .first { $0.lowercased().hasPrefix("content-length:") }
                            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                        if text.utf8.count - text.utf8.distance(from: text.startIndex, to: end.upperBound) >= length { return text }
                    }
                    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if count <= 0 { return text }
                    data += buffer[0..<count]
                }
            }
        }

        /// Everything until the daemon closes the connection.
        func readToEnd() async -> String {
            let fd = self.fd
            return await onOwnThread {
                var data: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if count <= 0 { break }
                    data += buffer[0..<count]
                }
                return String(decoding: data, as: UTF8.self)
            }
        }
    }

    @Test("A body over 1 MiB gets 413 payload_too_large and a header block over the limit 400; nothing is stored")
    func limits() async throws {
        try await JobqCommandTests.withDaemon { _, socket in
            let big = #"{"argv":["echo","\#(String(repeating: "x", count: 1_100_000))"]}"#
            let (status, body) = try await DaemonTests().curl(socket, "/v1/jobs", post: big)
            #expect(status == 413)
            #expect(body.contains(#""code":"payload_too_large""#))
            let header = try RawConnection(socket)
            header.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "y", count: 20_000))\r\n\r\n")
            #expect(await header.readToEnd().hasPrefix("HTTP/1.1 400"))
            let client = JobClient(socketPath: socket)
            #expect(try await client.jobs().jobs.isEmpty)
        }
    }

    @Test("socket_group gives the socket (mode 0660) to that group; an unknown group stops the daemon with 78")
    func socketGroup() async throws {
        let fixture = try DaemonTests.Fixture()
        let group = try #require(getgrnam("daemon"), "Debian's 'daemon' group").pointee.gr_gid
        let config = fixture.directory + "/jobqd.conf"
        try "socket_group = daemon\n".write(toFile: config, atomically: true, encoding: .utf8)
        let daemon = try fixture.start(["--config", config])
        #expect(await fixture.awaitNotification("READY=1"))
        let attributes = try FileManager.default.attributesOfItem(atPath: fixture.socketPath)
        #expect((attributes[.groupOwnerAccountID] as? NSNumber)?.uint32Value == group)
        #expect((attributes[.posixPermissions] as? Int) == 0o660)
        daemon.terminate()
        #expect(await DaemonTests().exit(of: daemon) == 0)

        try "socket_group = no-such-group-here\n".write(toFile: config, atomically: true, encoding: .utf8)
        let refused = try fixture.start(["--config", config])
        #expect(await DaemonTests().exit(of: refused) == 78)
    }

    @Test("Past max_connections, new connections are closed at once; those already served go on")
    func connectionLimit() async throws {
        try await JobqCommandTests.withDaemon(config: "max_connections = 2\n") { _, socket in
            // Connections accepted together may reach the limit's count in any order: the two
            // served ones are answered once each before the third arrives.
            let first = try RawConnection(socket)
            first.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(await first.readResponse().hasPrefix("HTTP/1.1 200"))
            let second = try RawConnection(socket)
            second.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(await second.readResponse().hasPrefix("HTTP/1.1 200"))
            let third = try RawConnection(socket)
            #expect(await third.readToEnd() == "", "the third connection is closed without an answer")
            first.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(await first.readToEnd().hasPrefix("HTTP/1.1 200"))
            second.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(await second.readToEnd().hasPrefix("HTTP/1.1 200"))
        }
    }

    @Test("Pipelined requests on one connection, submits among them, are answered in order, each once")
    func pipelinedInOrder() async throws {
        try await JobqCommandTests.withDaemon { _, socket in
            let submit = "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n{\"argv\":[\"true\"]}"
            let plain = "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\nContent-Length: 17\r\n\r\n{\"argv\":[\"true\"]}"
            let health = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            let show = "GET /v1/jobs/1 HTTP/1.1\r\nHost: x\r\n\r\n"
            let bad = "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\nContent-Length: 11\r\n\r\n{\"argv\":[]}"
            let last = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            let connection = try RawConnection(socket)
            // The first submit is read by the submit handler, which holds what follows until it answers.
            connection.send(submit + health + plain + show + bad + plain + submit + last)
            let answer = await connection.readToEnd()
            // A body is followed by the next status line directly.
            let statuses = answer.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
            #expect(statuses == ["201", "200", "201", "200", "400", "201", "201", "200"])
            // Each answer's body where its request's place says: ids 1 to 4 in submit order.
            let marks = [#""id":1,"created":true"#, #""status":"ok""#, "\r\n\r\n2\n", #""id":1"#,
                         "invalid_request: argv", "\r\n\r\n3\n", #""id":4,"created":true"#, #""status":"ok""#]
            var rest = Substring(answer)
            for mark in marks {
                let found = try #require(rest.range(of: mark), "\(mark) after the answers before it")
                rest = rest[found.upperBound...]
            }
            let client = JobClient(socketPath: socket)
            #expect(try await client.jobs().jobs.count == 4)
        }
    }

    @Test("A client that sends half a request and stalls holds nothing: others are served meanwhile")
    func stalledClient() async throws {
        try await JobqCommandTests.withDaemon { _, socket in
            var stalled: [RawConnection] = []
            for _ in 0..<20 {
                let connection = try RawConnection(socket)
                connection.send("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"argv\":")
                stalled.append(connection)
            }
            let idle = try RawConnection(socket)
            let client = JobClient(socketPath: socket)
            let submitted = try await client.submit(JobSpec(argv: ["true"]))
            #expect(try await client.wait(for: [submitted.jobs[0].id]).done)
            #expect(try await client.health().status == "ok")
            #expect(try await client.jobs().jobs.count == 1)
            _ = idle
            stalled.removeAll()
        }
    }

    @Test("SocketWatch wakes when the socket's name (or its missing directory's) appears, even before the call; not for other names; it ends at its deadline and at cancellation")
    func socketWatch() async throws {
        try await withTemporaryDirectory("socket-watch") { directory in
            let socket = directory + "/run/jobq.sock"
            // run/ does not exist yet: the watch is on the directory above, for "run".
            let outer = try #require(SocketWatch(socketPath: socket))
            #expect(FileManager.default.createFile(atPath: directory + "/other", contents: nil))
            #expect(try await !outer.changed(before: ContinuousClock.now + .milliseconds(50)), "another name woke it")
            try FileManager.default.createDirectory(atPath: directory + "/run", withIntermediateDirectories: false)
            #expect(try await outer.changed(before: ContinuousClock.now + .seconds(60)))

            let inner = try #require(SocketWatch(socketPath: socket))
            // Made between the watch and the call: still seen.
            #expect(FileManager.default.createFile(atPath: socket, contents: nil))
            #expect(try await inner.changed(before: ContinuousClock.now + .seconds(60)))
            // A mode change (a daemon sets its socket's once it listens).
            let again = try #require(SocketWatch(socketPath: socket))
            #expect(chmod(socket, 0o660) == 0)
            #expect(try await again.changed(before: ContinuousClock.now + .seconds(60)))

            let idle = try #require(SocketWatch(socketPath: directory + "/run/never.sock"))
            await #expect(throws: CancellationError.self) {
                try await withThrowingTaskGroup(of: Bool.self) { group in
                    group.addTask { try await idle.changed(before: ContinuousClock.now + .seconds(3600)) }
                    group.cancelAll()
                    _ = try await group.next()
                }
            }
        }
    }

    @Test("A wait whose client goes away ends on the daemon's side")
    func clientLeavesWait() async throws {
        try await JobqCommandTests.withDaemon { _, socket in
            let client = JobClient(socketPath: socket)
            _ = try await client.pause("held")
            let id = try await client.submit(JobSpec(argv: ["true"], queue: "held")).jobs[0].id
            let connection = try RawConnection(socket)
            let body = #"{"ids":[\#(id)]}"#
            connection.send("POST /v1/wait HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            // The wait is held open: the gauge counts it (each look is one request, no sleep).
            while try await !client.metrics().contains("jobq_api_long_requests 1\n") {}
            shutdown(connection.fd, Int32(SHUT_RDWR))
            while try await !client.metrics().contains("jobq_api_long_requests 0\n") {}
            #expect(try await client.job(id).state == .queued)
        }
    }

    @Test("A wait in progress when the daemon stops ends with 503 shutting_down")
    func waitEndsAtShutdown() async throws {
        let fixture = try DaemonTests.Fixture()
        let daemon = try fixture.start()
        #expect(await fixture.awaitNotification("READY=1"))
        let client = JobClient(socketPath: fixture.socketPath)
        _ = try await client.pause("held")
        let id = try await client.submit(JobSpec(argv: ["true"], queue: "held")).jobs[0].id
        async let waited: WaitResponse = client.wait(for: [id])
        while try await !client.metrics().contains("jobq_api_long_requests 1\n") {}
        daemon.terminate()
        do {
            _ = try await waited
            Issue.record("the wait returned although its job never ran")
        } catch let error as JobClientError {
            guard case .refused(503, "shutting_down", _) = error else { throw error }
        }
        #expect(await DaemonTests().exit(of: daemon) == 0)
    }

    @Test("A socket passed by socket activation (LISTEN_FDS) is served, and left in place at exit")
    func socketActivation() async throws {
        let fixture = try DaemonTests.Fixture()
        let socket = fixture.directory + "/activated.sock"
        // Python binds and listens, puts the socket at fd 3 and execs jobqd with LISTEN_PID set
        // to its own pid (which exec keeps), as systemd does.
        let script = """
            import os, socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(sys.argv[1]); s.listen(16)
            if s.fileno() != 3: os.dup2(s.fileno(), 3)
            os.set_inheritable(3, True)
            os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES="jobq")
            os.execv(sys.argv[2], sys.argv[2:])
            """
        let process = try fixture.launch("/usr/bin/env", ["python3", "-c", script, socket, DaemonTests.jobqdPath,
                                                          "--state-dir", fixture.state, "--socket", fixture.directory + "/unused.sock"])
        #expect(await fixture.awaitNotification("READY=1"))
        let client = JobClient(socketPath: socket)
        let id = try await client.submit(JobSpec(argv: ["true"])).jobs[0].id
        #expect(try await client.wait(for: [id]).done)
        #expect(!FileManager.default.fileExists(atPath: fixture.directory + "/unused.sock"))
        process.terminate()
        #expect(await DaemonTests().exit(of: process) == 0)
        #expect(FileManager.default.fileExists(atPath: socket), "the activated socket belongs to systemd")
    }

    @Test("systemd-socket-activate holds the socket; the first jobq submit through it starts the real jobqd, which runs the job and says READY=1")
    func systemdSocketActivate() async throws {
        let tool = "/usr/bin/systemd-socket-activate"
        try #require(FileManager.default.isExecutableFile(atPath: tool), "\(tool) is missing (Debian package systemd)")
        let fixture = try DaemonTests.Fixture()
        let socket = fixture.directory + "/activate.sock"
        let marker = fixture.directory + "/ran"
        // Without --accept it listens, waits for the first connection, then execs jobqd in its own
        // process (LISTEN_PID is its pid) with only the variables -E names. It is spawned directly,
        // not through Foundation's Process: Process then lost track of the jobq processes this
        // test starts next (their waitUntilExit never returned once the child had exec'd jobqd).
        // Its readiness: "Listening on <path> as 3." on stderr, which goes to a FIFO of the test's.
        let fifo = try fixture.fifo("socket-activate.stderr")
        let stderrFD = open(fifo, O_RDWR)
        defer { close(stderrFD) }
        let pid = try spawn([
            tool, "--listen=" + socket, "--fdname=jobq", "-E", "PATH", "-E", "NOTIFY_SOCKET=" + fixture.notify.address,
            "-E", "JOBQ_LOG_LEVEL=warning", DaemonTests.jobqdPath, "--state-dir", fixture.state,
            "--socket", fixture.directory + "/unused.sock",
        ], stderr: stderrFD)
        fixture.started.withLock { $0.append(pid) }
        let listening = await DaemonTests().lines(1, from: fifo).first?.hasPrefix("Listening on") ?? false
        try #require(listening)
        #expect(!FileManager.default.fileExists(atPath: fixture.state), "jobqd has not started before the first connection")

        let submitted = try await JobqCommandTests.jobq(socket, ["submit", "--", "touch", marker])
        #expect(submitted.status == 0, "\(submitted.stderr)")
        #expect(await fixture.awaitNotification("READY=1"))
        let id = submitted.stdout.trimmingCharacters(in: .newlines)
        #expect(try await JobqCommandTests.jobq(socket, ["wait", id]).status == 0)
        #expect(FileManager.default.fileExists(atPath: marker))
        #expect(!FileManager.default.fileExists(atPath: fixture.directory + "/unused.sock"), "the passed socket is served, none bound")
        kill(pid, SIGTERM)
        let status = await onOwnThread {
            var status: Int32 = 0
            return waitpid(pid, &status, 0) == pid ? status : -1
        }
        #expect(status == 0, "jobqd exits 0 after SIGTERM (wait status \(status))")
    }

    /// posix_spawn of `argv` (a full path first) with stdin from /dev/null and stderr to `stderr`.
    func spawn(_ argv: [String], stderr: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        let arguments = argv.map { strdup($0) } + [nil]
        defer { arguments.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, argv[0], &actions, nil, arguments, environ)
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EINVAL) }
        return pid
    }
}
