import Foundation
import JobModel
import Testing

/// What people change after a submit: a job's priority, a queue's workers; both last.
@Suite("jobq priority and workers", .timeLimit(.minutes(2)))
struct JobqSettingsTests {
    static func jobq(_ socket: String, _ arguments: [String]) async throws -> JobqCommandTests.Run {
        try await JobqCommandTests.jobq(socket, arguments)
    }

    @Test("priority ID N reorders a queued job; it is refused for one that finished")
    func priority() async throws {
        try await JobqCommandTests.withDaemon(config: "workers = 1\n") { fixture, socket in
            try await Self.jobq(socket, ["pause"]).expectSuccess()
            let order = fixture.directory + "/order"
            let ids = try await (0..<3).asyncMap { _ in
                try await Self.jobq(socket, ["submit", "--", "sh", "-c", "echo $JOBQ_JOB_ID >> \(order)"]).stdout
                    .trimmingCharacters(in: .newlines)
            }
            let changed = try await Self.jobq(socket, ["priority", ids[2], "10"])
            #expect(changed.status == 0 && changed.stdout == "\(ids[2]) priority 10\n", "\(changed.stderr)")
            #expect(try await Self.jobq(socket, ["show", ids[2]]).stdout.contains("priority 10"))
            try await Self.jobq(socket, ["resume"]).expectSuccess()
            try await Self.jobq(socket, ["wait"] + ids).expectSuccess()
            let ran = try String(contentsOfFile: order, encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(ran == [ids[2], ids[0], ids[1]])
            let late = try await Self.jobq(socket, ["priority", ids[0], "5"])
            #expect(late.status == 4 && late.stderr.contains("it has finished (succeeded)"), "\(late.stderr)")
            #expect(try await Self.jobq(socket, ["priority", ids[0], "2000000"]).status == 2)
        }
    }

    @Test("workers QUEUE N is kept across a restart, as a pause is")
    func workersLast() async throws {
        let fixture = try DaemonTests.Fixture()
        for round in 0..<2 {
            let daemon = try fixture.start()
            #expect(await fixture.awaitNotification("READY=1"))
            if round == 0 {
                try await Self.jobq(fixture.socketPath, ["workers", "builds", "3"]).expectSuccess()
            }
            let shown = try await Self.jobq(fixture.socketPath, ["workers", "builds"])
            #expect(shown.stdout.contains(try Regex(#"builds +3 +0 +no"#)), "round \(round): \(shown.stdout)")
            daemon.terminate()
            #expect(await DaemonTests().exit(of: daemon) == 0)
        }
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
