import Foundation
import JobModel
import Testing

/// What people change after a submit: a job's priority, a queue's workers; both last.
@Suite("jobq priority and workers", .timeLimit(.minutes(2)))
struct JobqSettingsTests {
    @Test("priority ID N reorders a queued job; it is refused for one that finished")
    func priority() async throws {
        try await JobqCommandTests.withDaemon(config: "workers = 1\n") { fixture, socket in
            try await JobqCommandTests.jobq(socket, ["pause"]).expectSuccess()
            let order = fixture.directory + "/order"
            let ids = try await (0..<3).asyncMap { _ in
                try await JobqCommandTests.jobq(socket, ["submit", "--", "sh", "-c", "echo $JOBQ_JOB_ID >> \(order)"]).stdout
                    .trimmingCharacters(in: .newlines)
            }
            let changed = try await JobqCommandTests.jobq(socket, ["priority", ids[2], "10"])
            #expect(changed.status == 0 && changed.stdout == "\(ids[2]) priority 10\n", "\(changed.stderr)")
            #expect(try await JobqCommandTests.jobq(socket, ["show", ids[2]]).stdout.contains("priority 10"))
            try await JobqCommandTests.jobq(socket, ["resume"]).expectSuccess()
            try await JobqCommandTests.jobq(socket, ["wait"] + ids).expectSuccess()
            let ran = try String(contentsOfFile: order, encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(ran == [ids[2], ids[0], ids[1]])
            let late = try await JobqCommandTests.jobq(socket, ["priority", ids[0], "5"])
            #expect(late.status == 4 && late.stderr.contains("it has finished (succeeded)"), "\(late.stderr)")
            #expect(try await JobqCommandTests.jobq(socket, ["priority", ids[0], "2000000"]).status == 2)
        }
    }

    @Test("workers QUEUE N is kept across a restart, as a pause is")
    func workersLast() async throws {
        let fixture = try DaemonTests.Fixture()
        for round in 0..<2 {
            let daemon = try fixture.start()
            #expect(await fixture.awaitNotification("READY=1"))
            if round == 0 {
                try await JobqCommandTests.jobq(fixture.socketPath, ["workers", "builds", "3"]).expectSuccess()
            }
            let shown = try await JobqCommandTests.jobq(fixture.socketPath, ["workers", "builds"])
            #expect(shown.stdout.contains(try Regex(#"builds +3 +0 +no"#)), "round \(round): \(shown.stdout)")
            daemon.terminate()
            #expect(await DaemonTests().exit(of: daemon) == 0)
        }
    }
}

@Suite("jobqd --max-running", .timeLimit(.minutes(2)))
struct MaxRunningTests {
    @Test("A global cap holds over several queues, each with workers to spare; status says so")
    func globalCap() async throws {
        let fixture = try DaemonTests.Fixture()
        let started = try fixture.fifo("started")
        let daemon = try fixture.start(["--workers", "2", "--max-running", "1"])
        #expect(await fixture.awaitNotification("READY=1"))
        let socket = fixture.socketPath
        var ids: [String] = []
        for queue in ["a", "b", "c"] {
            #expect(mkfifo(fixture.directory + "/go.\(queue)", 0o600) == 0)
            ids.append(try await JobqCommandTests.jobq(socket, ["submit", "-q", queue, "--", "sh", "-c",
                "echo \(queue) > \(started); read line < \(fixture.directory)/go.\(queue)"]).stdout
                .trimmingCharacters(in: .newlines))
        }
        // One at a time: each job is let go only once it is the one running.
        for _ in ids {
            let running = await DaemonTests().lines(1, from: started)[0]
            let status = try await JobqCommandTests.jobq(socket, ["status"])
            #expect(status.stdout.contains("workers 1/1 busy (at most 1 at once over every queue)"), "\(status.stdout)")
            #expect(status.stdout.contains("running 1"))
            try "go\n".write(toFile: fixture.directory + "/go.\(running)", atomically: false, encoding: .utf8)
        }
        try await JobqCommandTests.jobq(socket, ["wait"] + ids).expectSuccess()
        daemon.terminate()
        #expect(await DaemonTests().exit(of: daemon) == 0)
    }
}

extension Sequence {
    /// `map` with an async transform, in order.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
