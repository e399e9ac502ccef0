import Foundation
import JobClient
import JobModel
import JobQueueTesting
import Testing

/// Several real jobqd, each a node with its own state directory and socket, on one database of
/// the private PostgreSQL cluster: what one node is given, any node may run, exactly once while
/// none fails; a node that dies or stops past its heartbeat's lapse loses its runs to the others.
@Suite("jobqd nodes on one PostgreSQL database", .postgresCluster, .serialized, .timeLimit(.minutes(10)))
struct MultiNodeTests {
    /// Nodes of one new database, each with a fixture (directory, notify socket) of its own.
    struct Nodes {
        let url: String
        let fixtures: [String: DaemonTests.Fixture]
        let config: String

        init(_ names: [String], lapse: String = "1.5", url given: String? = nil) async throws {
            if let given { url = given } else { url = try await PostgresCluster.newDatabase() }
            var fixtures: [String: DaemonTests.Fixture] = [:]
            for name in names { fixtures[name] = try DaemonTests.Fixture(node: name, storeURL: url) }
            self.fixtures = fixtures
            config = fixtures[names[0]]!.directory + "/nodes.conf"
            try "heartbeat_lapse_seconds = \(lapse)\n".write(toFile: config, atomically: true, encoding: .utf8)
        }

        /// Starts node `name` and returns once it is ready; its log (warnings and worse) goes to `errors`.
        func start(_ name: String, _ arguments: [String] = [], errors: Pipe? = nil) async throws -> Process {
            let fixture = fixtures[name]!
            let daemon = try fixture.start(["--config", config] + arguments, errors: errors)
            #expect(await fixture.awaitNotification("READY=1"), "node \(name) started")
            return daemon
        }

        func client(_ name: String) -> JobClient { JobClient(socketPath: fixtures[name]!.socketPath) }
    }

    /// Jobs this node finished, from its metrics.
    static func finishedHere(_ client: JobClient) async throws -> Int {
        let metrics = try await client.metrics()
        return metrics.split(separator: "\n")
            .filter { $0.hasPrefix("jobq_jobs_finished_total{") && $0.contains("state=\"succeeded\"") }
            .compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }
            .reduce(0, +)
    }

    @Test("10,000 jobs submitted through three nodes run exactly once each, spread over the nodes; a join on each sees them all end")
    func exactlyOnceAcrossNodes() async throws {
        let nodes = try await Nodes(["a", "b", "c"], lapse: "30")
        var daemons: [Process] = []
        for name in ["a", "b", "c"] { daemons.append(try await nodes.start(name)) }
        let out = nodes.fixtures["a"]!.directory + "/ran"
        let spec = JobSpec(command: .shell("echo $JOBQ_JOB_ID >> \(out)"))
        var submitted: [JobID] = []
        for batch in 0..<10 {
            let client = nodes.client(["a", "b", "c"][batch % 3])
            submitted += try await client.submit(Array(repeating: spec, count: 1_000)).jobs.map(\.id)
        }
        for name in ["a", "b", "c"] {
            #expect(try await nodes.client(name).join().done)
        }
        let ran = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").compactMap { JobID(String($0)) }
        #expect(ran.count == 10_000)
        #expect(ran.sorted() == submitted.sorted(), "every job ran, and none twice")
        var finished: [String: Int] = [:]
        for name in ["a", "b", "c"] { finished[name] = try await Self.finishedHere(nodes.client(name)) }
        #expect(finished.values.reduce(0, +) == 10_000)
        #expect(finished.values.allSatisfy { $0 > 0 }, "each node ran some: \(finished)")
        let status = try await nodes.client("b").status()
        #expect(status.states["succeeded"] == 10_000)
        for daemon in daemons {
            daemon.terminate()
            #expect(await DaemonTests().exit(of: daemon) == 0)
        }
    }

    @Test("kill -9 of a node with running jobs: the others run them again after its heartbeat lapses; every job succeeds")
    func killedNodeRescued() async throws {
        let nodes = try await Nodes(["a", "b", "c"])
        let a = try await nodes.start("a")
        let fixture = nodes.fixtures["a"]!
        let started = try fixture.fifo("started")
        let killed = fixture.directory + "/killed"
        // Node a runs two at once (two workers); once `killed` exists, the jobs end at once.
        let spec = JobSpec(command: .shell("[ -e \(killed) ] && exit 0; echo \"$JOBQ_JOB_ID $$\" > \(started); exec sleep 300"))
        let ids = try await nodes.client("a").submit(Array(repeating: spec, count: 4)).jobs.map(\.id)
        let running = await DaemonTests().lines(2, from: started).map { $0.split(separator: " ") }
        let orphans = running.compactMap { Int32($0[1]) }
        defer { for pid in orphans { kill(pid, SIGKILL) } }
        #expect(FileManager.default.createFile(atPath: killed, contents: nil))
        let b = try await nodes.start("b")
        let c = try await nodes.start("c")
        kill(a.processIdentifier, SIGKILL)
        let clock = ContinuousClock()
        let before = clock.now
        let waited = try await nodes.client("b").wait(for: ids)
        print("multi-node: jobs of the killed node rescued and run again after \(clock.now - before)")
        #expect(waited.done && waited.jobs.allSatisfy { $0.state == .succeeded })
        let rescued = Set(running.compactMap { JobID(String($0[0])) })
        #expect(rescued.count == 2)
        for id in rescued {
            let job = try await nodes.client("c").job(id)
            #expect(job.runs == 2 && job.interruptedAttempts == 1 && job.attempts == 1)
            #expect(job.error == nil)
            let history = try await nodes.client("c").runs(of: id)
            #expect(history.last.map { $0.node == "b" || $0.node == "c" } == true, "run again by another node: \(history)")
        }
        for daemon in [b, c] {
            daemon.terminate()
            #expect(await DaemonTests().exit(of: daemon) == 0)
        }
    }

    @Test("A node stopped (SIGSTOP) past its lapse, then continued: another ran its job; it records nothing stale and stops its process")
    func stoppedNodeFenced() async throws {
        let nodes = try await Nodes(["a", "b"])
        let log = Pipe()
        let a = try await nodes.start("a", errors: log)
        let fixture = nodes.fixtures["a"]!
        let started = try fixture.fifo("started")
        let stopped = fixture.directory + "/stopped"
        let spec = JobSpec(command: .shell("[ -e \(stopped) ] && exit 0; echo $$ > \(started); exec sleep 300"))
        let id = try #require(try await nodes.client("a").submit([spec]).jobs.first?.id)
        let pid = try #require(await DaemonTests().lines(1, from: started).first.flatMap { Int32($0) })
        defer { kill(pid, SIGKILL) }
        #expect(FileManager.default.createFile(atPath: stopped, contents: nil))
        let b = try await nodes.start("b")
        kill(a.processIdentifier, SIGSTOP)
        let waited = try await nodes.client("b").wait(for: [id])
        #expect(waited.jobs.first?.state == .succeeded)
        kill(a.processIdentifier, SIGCONT)
        // Node a hears at its next beat that it lapsed, and stops the run it lost.
        let lapsed = await onOwnThread { () -> Bool in
            var text = ""
            while case let chunk = log.fileHandleForReading.availableData, !chunk.isEmpty {
                text += String(decoding: chunk, as: UTF8.self)
                if text.contains("this node's heartbeat lapsed") { return true }
            }
            return false
        }
        #expect(lapsed)
        #expect(await Self.ends(pid), "the stale process was stopped")
        let job = try await nodes.client("a").job(id)
        #expect(job.state == .succeeded && job.exitCode == 0 && job.runs == 2, "nothing stale recorded: \(job)")
        let history = try await nodes.client("a").runs(of: id)
        #expect(history.last?.node == "b" && history.last?.run == 2 && history.last?.error == nil, "\(history)")
        for daemon in [a, b] {
            daemon.terminate()
            #expect(await DaemonTests().exit(of: daemon) == 0)
        }
    }

    @Test("Through any node: a cancel stops the run on the node that runs it, events there see it end; a pause holds every node")
    func actsAcrossNodes() async throws {
        let nodes = try await Nodes(["a", "b"], lapse: "30")
        let a = try await nodes.start("a")
        let started = try nodes.fixtures["a"]!.fifo("started")
        let slow = try #require(try await nodes.client("a").submit([JobSpec(command: .shell("echo $$ > \(started); exec sleep 300"))]).jobs.first?.id)
        let pid = try #require(await DaemonTests().lines(1, from: started).first.flatMap { Int32($0) })
        defer { kill(pid, SIGKILL) }
        let b = try await nodes.start("b")
        // Events on b, of a job that runs on a, cancelled through b.
        let subscribed = AsyncStream<Void>.makeStream()
        async let ended: String? = {
            var state: String?
            try await nodes.client("b").events(connected: { subscribed.continuation.yield() }) { event in
                guard event.job.id == slow, event.kind == "finished" else { return true }
                state = event.job.state.rawValue
                return false
            }
            return state
        }()
        var connected = subscribed.stream.makeAsyncIterator()
        await connected.next()
        #expect(try await nodes.client("b").cancel(slow).state == .cancelled)
        #expect(await Self.ends(pid), "node a stopped the run it heard was cancelled")
        #expect(try await ended == "cancelled")
        // Node a keeps the stopped run in the job's history once its process has been reaped.
        var history: [RunRecord] = []
        for _ in 0..<600 where history.isEmpty {
            history = try await nodes.client("b").runs(of: slow)
            if history.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(history.first?.node == "a", "\(history)")

        // A pause through a holds b from its commit on (b's claims find the queue paused); a
        // resume through b lets either node run the job, and a wait on a sees it end.
        _ = try await nodes.client("a").pause("held")
        let held = try #require(try await nodes.client("b").submit([JobSpec(command: .shell("true"), queue: "held")]).jobs.first?.id)
        let marker = try #require(try await nodes.client("b").submit([JobSpec(command: .shell("true"))]).jobs.first?.id)
        #expect(try await nodes.client("b").wait(for: [marker]).jobs.first?.state == .succeeded)
        #expect(try await nodes.client("a").job(held).state == .queued, "paused through a: neither node claims it")
        _ = try await nodes.client("b").resume("held")
        #expect(try await nodes.client("a").wait(for: [held]).jobs.first?.state == .succeeded)
        for daemon in [a, b] {
            daemon.terminate()
            #expect(await DaemonTests().exit(of: daemon) == 0)
        }
    }

    @Test("Nodes serving named queues run only their jobs; jobq status on any node lists the nodes, their heartbeats, runs and queues")
    func servedQueuesAndStatus() async throws {
        let nodes = try await Nodes(["a", "b"], lapse: "30")
        let a = try await nodes.start("a", ["--serve-queues", "gpu"])
        let b = try await nodes.start("b", ["--serve-queues", "default,cpu"])
        let started = try nodes.fixtures["a"]!.fifo("started")
        let release = nodes.fixtures["a"]!.directory + "/release"
        let holder = try #require(try await nodes.client("b").submit([
            JobSpec(command: .shell("echo go > \(started); while [ ! -e \(release) ]; do sleep 0.05; done"), queue: "gpu"),
        ]).jobs.first?.id)
        _ = await DaemonTests().lines(1, from: started)
        // While node a runs the gpu job, both nodes list both nodes.
        for name in ["a", "b"] {
            let listed = try #require(try await nodes.client(name).status().nodes)
            #expect(listed.map(\.name) == ["a", "b"] && listed.map(\.isSelf) == [name == "a", name == "b"])
            #expect(listed.map(\.running) == [1, 0] && listed.map(\.serves) == [["gpu"], ["cpu", "default"]])
            #expect(listed.allSatisfy { !$0.lapsed })
        }
        let shown = try await JobqCommandTests.jobq(nodes.fixtures["b"]!.socketPath, ["status"])
        #expect(shown.status == 0)
        let lines = shown.stdout.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("NODE") && $0.contains("HEARTBEAT") && $0.contains("SERVES") }, "\(shown.stdout)")
        #expect(lines.contains { $0.hasPrefix("a ") && $0.contains(" ago") && $0.contains("gpu") }, "\(shown.stdout)")
        #expect(lines.contains { $0.hasPrefix("b *") && $0.contains("cpu,default") }, "\(shown.stdout)")
        #expect(FileManager.default.createFile(atPath: release, contents: nil))
        let spec = { (queue: String) in JobSpec(command: .shell("true"), queue: queue) }
        let gpu = try await nodes.client("b").submit((0..<4).map { _ in spec("gpu") }).jobs.map(\.id) + [holder]
        let cpu = try await nodes.client("a").submit((0..<4).map { _ in spec("cpu") } + (0..<4).map { _ in spec("default") }).jobs.map(\.id)
        let waited = try await nodes.client("a").wait(for: gpu + cpu)
        #expect(waited.done && waited.jobs.allSatisfy { $0.state == .succeeded })
        for id in gpu { #expect(try await nodes.client("a").runs(of: id).map(\.node) == ["a"]) }
        for id in cpu { #expect(try await nodes.client("b").runs(of: id).map(\.node) == ["b"]) }
        for daemon in [a, b] {
            daemon.terminate()
            #expect(await DaemonTests().exit(of: daemon) == 0)
        }
    }

    @Test("jobq logs on one node reads and follows the output of a job that runs on another, to its last byte")
    func outputFromAnyNode() async throws {
        let nodes = try await Nodes(["a", "b"], lapse: "30")
        let a = try await nodes.start("a", ["--serve-queues", "default"])
        let b = try await nodes.start("b", ["--serve-queues", "elsewhere"])
        let release = nodes.fixtures["a"]!.directory + "/release"
        let id = try #require(try await nodes.client("b").submit([
            JobSpec(command: .shell("echo one; while [ ! -e \(release) ]; do sleep 0.05; done; echo two >&2; echo three")),
        ]).jobs.first?.id)
        // A follow through b, which has no file of the run: what a writes reaches it while the job runs.
        let follow = Process()
        follow.executableURL = URL(filePath: JobqCommandTests.jobqPath)
        follow.arguments = ["--socket", nodes.fixtures["b"]!.socketPath, "logs", "--follow", "\(id)"]
        let output = Pipe()
        follow.standardOutput = output
        try follow.run()
        let first = await onOwnThread { () -> String in
            var text = ""
            while !text.contains("\n"), case let chunk = output.fileHandleForReading.availableData, !chunk.isEmpty {
                text += String(decoding: chunk, as: UTF8.self)
            }
            return text
        }
        #expect(first == "one\n")
        #expect(FileManager.default.createFile(atPath: release, contents: nil))
        let rest = await onOwnThread { String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
        #expect(await DaemonTests().exit(of: follow) == 0)
        #expect(first + rest == "one\nthree\n")
        #expect(try await nodes.client("b").runs(of: id).map(\.node) == ["a"])
        let socket = nodes.fixtures["b"]!.socketPath
        #expect(try await JobqCommandTests.jobq(socket, ["logs", "--stderr", "\(id)"]).stdout == "two\n")
        #expect(try await JobqCommandTests.jobq(socket, ["logs", "--tail", "1", "\(id)"]).stdout == "three\n")
        let both = try await JobqCommandTests.jobq(socket, ["logs", "--both", "\(id)"]).stdout
        #expect(both.split(separator: "\n").sorted() == ["one", "three", "two"])
        for daemon in [a, b] {
            daemon.terminate()
            #expect(await DaemonTests().exit(of: daemon) == 0)
        }
    }

    @Test("PostgreSQL restarted while jobs run: the nodes reconnect, and every acknowledged job succeeds")
    func databaseRestarted() async throws {
        try await PostgresCluster.Own.with { cluster in try await restartDuringRun(cluster) }
    }

    func restartDuringRun(_ cluster: PostgresCluster.Own) async throws {
        let nodes = try await Nodes(["a", "b"], lapse: "30", url: cluster.url)
        var daemons: [Process] = []
        for name in ["a", "b"] { daemons.append(try await nodes.start(name)) }
        let out = nodes.fixtures["a"]!.directory + "/ran"
        let spec = JobSpec(command: .shell("sleep 0.02; echo $JOBQ_JOB_ID >> \(out)"))
        var acknowledged: [JobID] = []
        for name in ["a", "b"] { acknowledged += try await nodes.client(name).submit(Array(repeating: spec, count: 100)).jobs.map(\.id) }
        try await cluster.restart()
        // Submits while the nodes reconnect may be refused (the database is unavailable): each
        // is tried again until one is acknowledged.
        var refused = 0
        for name in ["a", "b", "a", "b"] {
            for attempt in 0..<200 {
                do {
                    acknowledged += try await nodes.client(name).submit(Array(repeating: spec, count: 25)).jobs.map(\.id)
                    break
                } catch {
                    refused += 1
                    #expect(attempt < 199, "node \(name) still refuses submits: \(error)")
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
        }
        print("multi-node: \(refused) submits refused while the nodes reconnected")
        let waited = try await nodes.client("b").wait(for: acknowledged)
        #expect(waited.done && waited.jobs.allSatisfy { $0.state == .succeeded })
        let ran = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").compactMap { JobID(String($0)) }
        #expect(Set(ran) == Set(acknowledged), "every acknowledged job ran")
        print("multi-node: \(acknowledged.count) jobs acknowledged, \(ran.count) runs across a restart of PostgreSQL")
        for daemon in daemons {
            daemon.terminate()
            #expect(await DaemonTests().exit(of: daemon) == 0)
        }
    }

    @Test("serve_queues on a SQLite store: jobqd refuses to start (78) and says why")
    func serveQueuesNeedsPostgres() async throws {
        let fixture = try DaemonTests.Fixture()
        let errors = Pipe()
        let daemon = try fixture.launch(
            DaemonTests.jobqdPath, ["--state-dir", fixture.state, "--socket", fixture.socketPath, "--serve-queues", "gpu"], errors: errors)
        #expect(await DaemonTests().exit(of: daemon) == 78)
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(message.contains("serve_queues needs a PostgreSQL store"), "\(message)")
    }

    /// Whether process `pid` (not a child of the test's) ends within a minute.
    static func ends(_ pid: Int32) async -> Bool {
        for _ in 0..<600 {
            if kill(pid, 0) != 0 { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}
