import Foundation
import JobModel
import JobQueueTesting
import JobStore
import JobStorePostgres
import JobStoring
import Logging
import Synchronization
import Testing

/// jobqd started as a real process, with NOTIFY_SOCKET pointing at a socket of the test's.
@Suite("jobqd", .timeLimit(.minutes(2)))
struct DaemonTests {
    static var jobqdPath: String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(filePath: executable).deletingLastPathComponent().appending(path: "jobqd").path()
    }

    /// Whether the daemons these tests start keep their jobs in PostgreSQL
    /// (`JOBQ_TEST_DAEMON_STORE=postgresql`, with `JOBQ_TEST_POSTGRES` naming a private cluster:
    /// make test runs the suite so a second time), rather than in SQLite.
    static let onPostgres = ProcessInfo.processInfo.environment["JOBQ_TEST_DAEMON_STORE"] == "postgresql"

    /// A temporary directory with a notify socket, FIFOs and a state directory; with
    /// ``onPostgres``, a new database of the private cluster too.
    final class Fixture: Sendable {
        let directory: String
        let notify: NotifyListener
        let started = Mutex<[Int32]>([])
        /// The PostgreSQL store's URL, when the daemons keep their jobs there.
        let storeURL: String?
        var state: String { directory + "/state" }
        var socketPath: String { directory + "/run/jobq.sock" }
        /// The node name of the daemons a test starts, the same across their restarts.
        static let node = "test-node"
        /// This fixture's node name.
        let node: String

        init() throws {
            directory = try makeTemporaryDirectory("jobqd-test")
            notify = try NotifyListener()
            storeURL = DaemonTests.onPostgres ? try PostgresCluster.newDatabaseBlocking() : nil
            node = Self.node
        }

        /// A fixture for node `node` of the PostgreSQL database at `storeURL`, which other
        /// fixtures' daemons share.
        init(node: String, storeURL: String) throws {
            directory = try makeTemporaryDirectory("jobqd-\(node)")
            notify = try NotifyListener()
            self.storeURL = storeURL
            self.node = node
        }

        deinit {
            // A daemon a failed test left running must not outlive it.
            for pid in started.withLock({ $0 }) { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(atPath: directory)
        }

        /// Stores jobs before the daemon starts (the API that submits to a running daemon is
        /// the next issue's).
        func insert(_ specs: [JobSpec]) async throws -> [JobID] {
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            return try await withStore { store in
                try await withCheckedThrowingContinuation { continuation in
                    store.insert(specs) { continuation.resume(with: $0.map { $0.map(\.job.id) }) }
                }
            }
        }

        /// The daemons' store, opened beside them (or while none runs) for `body`, closed after.
        func withStore<T: Sendable>(_ body: @Sendable (any JobStoring) async throws -> T) async throws -> T {
            let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            guard let storeURL else {
                let store = try await JobStore.open(
                    StoreConfiguration(path: state + "/jobs.db", logDirectory: state + "/logs"), logger: quiet)
                do {
                    let result = try await body(store)
                    await store.close()
                    return result
                } catch {
                    await store.close()
                    throw error
                }
            }
            let store = try await PostgresJobStore.open(
                try PostgresStoreConfiguration(url: storeURL), node: node, logDirectory: state + "/logs", logger: quiet)
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    await store.runWithPool()
                    return nil
                }
                defer { group.cancelAll() }
                return try await body(store)
            }
        }

        func fifo(_ name: String) throws -> String {
            let path = directory + "/" + name
            guard mkfifo(path, 0o600) == 0 else { throw POSIXError(.EEXIST) }
            return path
        }

        func start(_ arguments: [String] = [], environment extra: [String: String] = [:], errors: Pipe? = nil) throws -> Process {
            let store = storeURL.map { ["--store", $0, "--node", node] } ?? []
            return try launch(DaemonTests.jobqdPath, ["--state-dir", state, "--socket", socketPath] + store + arguments,
                       environment: ["JOBQ_LOG_LEVEL": "warning"].merging(extra) { $1 }, errors: errors)
        }

        /// Runs `executable` with the fixture's notify socket in its environment; a process a
        /// failed test leaves running is killed with the fixture.
        func launch(
            _ executable: String, _ arguments: [String], environment extra: [String: String] = [:], errors: Pipe? = nil
        ) throws -> Process {
            let process = Process()
            process.executableURL = URL(filePath: executable)
            process.arguments = arguments
            var environment = ProcessInfo.processInfo.environment
            environment["NOTIFY_SOCKET"] = notify.address
            process.environment = environment.merging(extra) { $1 }
            process.standardError = errors ?? FileHandle.nullDevice
            try process.run()
            started.withLock { $0.append(process.processIdentifier) }
            return process
        }

        /// Waits for a notification that contains `field`, skipping STATUS updates.
        func awaitNotification(_ field: String) async -> Bool {
            while true {
                let message = await notify.receive()
                if message.split(separator: "\n").contains(Substring(field)) { return true }
                if message.isEmpty { return false }
            }
        }
    }

    /// `count` lines written into a FIFO by jobs. It is opened read-write, so that the moments
    /// between two writers are not an end of file.
    func lines(_ count: Int, from path: String) async -> [String] {
        await onOwnThread {
            let fd = open(path, O_RDWR)
            var lines: [String] = []
            var current: [UInt8] = []
            var byte: UInt8 = 0
            while lines.count < count, read(fd, &byte, 1) == 1 {
                if byte == UInt8(ascii: "\n") {
                    lines.append(String(decoding: current, as: UTF8.self))
                    current = []
                } else {
                    current.append(byte)
                }
            }
            close(fd)
            return lines
        }
    }

    func exit(of process: Process) async -> Int32 {
        await onOwnThread {
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    @Test("READY=1 once it runs; SIGTERM with a running job: STOPPING=1, the job is stopped and requeued, exit 0")
    func sigtermDrains() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.jobqdPath))
        let fixture = try Fixture()
        let started = try fixture.fifo("started")
        let id = try await fixture.insert([JobSpec(command: .shell("echo $$ > \(started); exec sleep 300"))])[0]
        let daemon = try fixture.start(["--drain-grace", "0.2"])
        #expect(await fixture.awaitNotification("READY=1"))
        let jobPID = try #require(await lines(1, from: started).first.flatMap { pid_t($0) })
        daemon.terminate()  // SIGTERM
        #expect(await fixture.awaitNotification("STOPPING=1"))
        #expect(await exit(of: daemon) == 0)
        #expect(kill(jobPID, 0) != 0 || isZombie(jobPID), "the job's process outlived the drain")
        let job = try #require(try await fixture.withStore { try await $0.job(id) })
        #expect(job.state == .queued)
        #expect(job.attempts == 0)
    }

    @Test("A lock left to a child of a dead daemon (caught between fork and exec) is waited for, not refused", .timeLimit(.minutes(1)))
    func lockHeldByDeadOwnersChild() async throws {
        let fixture = try Fixture()
        try FileManager.default.createDirectory(atPath: fixture.state, withIntermediateDirectories: true)
        let lockPath = fixture.state + "/jobqd.lock"
        // The owner the file names is dead: a process that has exited and been reaped.
        let dead = Process()
        dead.executableURL = URL(filePath: "/bin/true")
        try dead.run()
        _ = await exit(of: dead)
        try "\(dead.processIdentifier)\n".write(toFile: lockPath, atomically: false, encoding: .utf8)
        // The lock's holder, ready once it says so.
        let holder = try #require(try await HeldLock.flock(lockPath))

        let daemon = try fixture.start()
        // Once jobqd has the lock file open it has met the held lock (it opens, then locks):
        // without the wait for a dead owner's child it would exit 75 right there.
        let pid = daemon.processIdentifier
        let opened = await onOwnThread { () -> Bool in
            while kill(pid, 0) == 0 {
                let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
                if fds.contains(where: { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)"))?.hasSuffix("/jobqd.lock") == true }) {
                    return true
                }
                usleep(1000)
            }
            return false
        }
        #expect(opened)
        #expect(await holder.release() == 0)  // the holder exits: the lock is free
        #expect(await fixture.awaitNotification("READY=1"), "a dead owner's lock is waited for")
        daemon.terminate()
        #expect(await exit(of: daemon) == 0)
    }

    @Test("A second jobqd on the same state directory exits at once, saying who holds it")
    func secondDaemonRefused() async throws {
        let fixture = try Fixture()
        let first = try fixture.start()
        #expect(await fixture.awaitNotification("READY=1"))
        let second = Process()
        second.executableURL = URL(filePath: Self.jobqdPath)
        second.arguments = ["--state-dir", fixture.state, "--socket", fixture.directory + "/other.sock"]
        let errors = Pipe()
        second.standardError = errors
        try second.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(await exit(of: second) == 75)
        #expect(message.contains("another jobqd (pid \(first.processIdentifier)) is already using \(fixture.state)"))
        first.terminate()
        #expect(await exit(of: first) == 0)
    }

    @Test("A database another process holds locked past the busy timeout at start-up: exit 74, saying so; nothing changed",
          .enabled(if: !DaemonTests.onPostgres, "SQLite's own lock: a PostgreSQL store has no database file to lock"))
    func lockedDatabaseAtStart() async throws {
        let fixture = try Fixture()
        let ids = try await fixture.insert([JobSpec(argv: ["true"])])
        let lock = try #require(try await HeldLock.sqliteWrite(fixture.state + "/jobs.db"))

        let daemon = Process()
        daemon.executableURL = URL(filePath: Self.jobqdPath)
        daemon.arguments = ["--state-dir", fixture.state, "--socket", fixture.socketPath]
        let errors = Pipe()
        daemon.standardError = errors
        try daemon.run()
        let message = await onOwnThread { String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
        #expect(await exit(of: daemon) == 74)
        #expect(message.contains("database is locked"))
        #expect(await lock.release() == 0)

        #expect(try await fixture.withStore { try await $0.job(ids[0]) }?.state == .queued)
    }

    /// `curl --unix-socket` against the daemon: the HTTP status and the body.
    func curl(_ socket: String, _ path: String, post body: String? = nil) async throws -> (Int, String) {
        let process = Process()
        process.executableURL = URL(filePath: "/usr/bin/curl")
        var arguments = ["--silent", "--unix-socket", socket, "--write-out", "\n%{http_code}"]
        if let body {
            // Through a file: a large body does not fit in one argument (E2BIG past 128 KiB).
            let file = (socket as NSString).deletingLastPathComponent + "/body-\(UInt32.random(in: 0...UInt32.max)).json"
            try body.write(toFile: file, atomically: true, encoding: .utf8)
            arguments += ["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "@" + file]
        }
        process.arguments = arguments + ["http://localhost" + path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        _ = await exit(of: process)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    @Test("The socket: it accepts connections by READY=1, is mode 0660, answers /healthz and /v1/status, errors are JSON")
    func socketAndStatus() async throws {
        let fixture = try Fixture()
        _ = try await fixture.insert([JobSpec(argv: ["true"], queue: "later")].map { spec in
            var delayed = spec
            delayed.runAt = Timestamp.now().advanced(by: .seconds(3600))
            return delayed
        })
        let daemon = try fixture.start()
        #expect(await fixture.awaitNotification("READY=1"))
        let attributes = try FileManager.default.attributesOfItem(atPath: fixture.socketPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o660)
        let (healthStatus, health) = try await curl(fixture.socketPath, "/healthz")
        #expect(healthStatus == 200)
        #expect(health == #"{"status":"ok"}"#)
        let (statusCode, status) = try await curl(fixture.socketPath, "/v1/status")
        #expect(statusCode == 200)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any])
        #expect((json["states"] as? [String: Int])?["queued"] == 1)
        #expect((json["queues"] as? [[String: Any]])?.first?["name"] as? String == "later")
        #expect((json["workers"] as? [String: Int])?["total"] == 2)
        let (missingCode, missing) = try await curl(fixture.socketPath, "/v1/nothing")
        #expect(missingCode == 404)
        #expect(missing.contains(#""code":"not_found""#))
        daemon.terminate()
        #expect(await exit(of: daemon) == 0)
        #expect(!FileManager.default.fileExists(atPath: fixture.socketPath))
    }

    @Test("Jobs through the socket: submit, show, list, cancel, retry, and their errors")
    func jobRoutes() async throws {
        let fixture = try Fixture()
        let daemon = try fixture.start()
        #expect(await fixture.awaitNotification("READY=1"))
        let socket = fixture.socketPath
        func json(_ text: String) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        }
        // A delayed job stays queued, so that every step below sees a known state.
        let later = Timestamp.now().advanced(by: .seconds(3600)).description
        let (created, submitted) = try await curl(socket, "/v1/jobs",
            post: #"{"argv": ["true"], "run_at": "\#(later)", "label": "api", "idempotency_key": "k1"}"#)
        #expect(created == 201)
        let item = try #require((try json(submitted)["jobs"] as? [[String: Any]])?.first)
        let id = try #require(item["id"] as? Int)
        #expect(item["created"] as? Bool == true)
        let (again, repeated) = try await curl(socket, "/v1/jobs", post: #"{"argv": ["other"], "idempotency_key": "k1"}"#)
        #expect(again == 200)
        #expect(((try json(repeated)["jobs"] as? [[String: Any]])?.first?["id"] as? Int) == id)

        let (shown, job) = try await curl(socket, "/v1/jobs/\(id)")
        #expect(shown == 200)
        #expect(try json(job)["state"] as? String == "queued")
        let (listed, list) = try await curl(socket, "/v1/jobs?state=queued&label=api")
        #expect(listed == 200)
        #expect(((try json(list)["jobs"] as? [[String: Any]])?.map { $0["id"] as? Int }) == [id])

        let (cancelled, cancelBody) = try await curl(socket, "/v1/jobs/\(id)/cancel", post: "")
        #expect(cancelled == 200)
        #expect(try json(cancelBody)["state"] as? String == "cancelled")
        // A second cancel is done already: 200, the job unchanged.
        let (twice, twiceBody) = try await curl(socket, "/v1/jobs/\(id)/cancel", post: "")
        #expect(twice == 200)
        #expect(try json(twiceBody)["state"] as? String == "cancelled")
        let (retried, retryBody) = try await curl(socket, "/v1/jobs/\(id)/retry", post: "")
        #expect(retried == 200)
        #expect(try json(retryBody)["state"] as? String == "queued")

        let (badJSON, badBody) = try await curl(socket, "/v1/jobs", post: "{not json")
        #expect(badJSON == 400)
        #expect(badBody.contains(#""code":"invalid_request""#))
        let (typo, typoBody) = try await curl(socket, "/v1/jobs", post: #"{"argv": ["true"], "prority": 3}"#)
        #expect(typo == 400)
        #expect(typoBody.contains("prority"))
        let (invalid, invalidBody) = try await curl(socket, "/v1/jobs", post: #"{"jobs": [{"argv": ["true"]}, {"argv": []}]}"#)
        #expect(invalid == 400)
        #expect(invalidBody.contains("spec 1 of the batch (counted from 0): argv"))
        let (missing, _) = try await curl(socket, "/v1/jobs/99999")
        #expect(missing == 404)
        let (huge, hugeBody) = try await curl(socket, "/v1/jobs", post: #"{"argv": ["\#(String(repeating: "x", count: 1_100_000))"]}"#)
        #expect(huge == 413)
        #expect(hugeBody.contains("payload_too_large"))
        // Nothing of the refused requests was stored.
        let (_, all) = try await curl(socket, "/v1/jobs")
        #expect((try json(all)["jobs"] as? [Any])?.count == 1)
        daemon.terminate()
        #expect(await exit(of: daemon) == 0)
    }
}

/// Whether a process is a zombie (dead, not yet reaped by its new parent).
func isZombie(_ pid: pid_t) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return true }
    return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first == "Z"
}
