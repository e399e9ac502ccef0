import Foundation
import JobModel
import Testing

/// cancel, retry and wait by filter: a count, a question on a terminal, --yes for scripts.
@Suite("jobq bulk operations", .timeLimit(.minutes(2)))
struct JobqBulkTests {
    @Test("cancel --queue asks on a terminal, needs --yes without one; retry --label and wait --queue act on the matches")
    func byFilter() async throws {
        try await JobqCommandTests.withDaemon { _, socket in
            try await JobqCommandTests.jobq(socket, ["pause", "builds"]).expectSuccess()
            for _ in 0..<3 { _ = try await JobqCommandTests.jobq(socket, ["submit", "-q", "builds", "--label", "nightly", "--", "true"]) }
            let other = try await JobqCommandTests.jobq(socket, ["submit", "--", "true"]).stdout.trimmingCharacters(in: .newlines)
            let refused = try await JobqCommandTests.jobq(socket, ["cancel", "--queue", "builds"])
            #expect(refused.status == 2)
            #expect(refused.stderr.contains("cancel 3 jobs (queue builds; queued, blocked, running)? Without a terminal to ask on, give --yes"), "\(refused.stderr)")
            // On a terminal: the question, and "n" changes nothing.
            let declined = try await JobqCommandTests.jobqOnTerminal(socket, ["cancel", "-q", "builds"], input: "n\n")
            #expect(declined.status == 1 && declined.stdout.contains("cancel 3 jobs (queue builds; queued, blocked, running)? [y/N]"), "\(declined.stdout)")
            let accepted = try await JobqCommandTests.jobqOnTerminal(socket, ["cancel", "-q", "builds"], input: "y\n")
            #expect(accepted.status == 0 && accepted.stdout.components(separatedBy: " cancelled").count == 4, "\(accepted.stdout)")
            #expect(!(try await JobqCommandTests.jobq(socket, ["show", other]).stdout.contains("cancelled")))  // not of the queue
            let retried = try await JobqCommandTests.jobq(socket, ["retry", "--label", "nightly", "--yes"])
            #expect(retried.status == 0 && retried.stdout.components(separatedBy: " queued again").count == 4, "\(retried.stderr)")
            try await JobqCommandTests.jobq(socket, ["resume", "builds"]).expectSuccess()
            let waited = try await JobqCommandTests.jobq(socket, ["wait", "--queue", "builds", "--json"])
            #expect(waited.status == 0)
            #expect(waited.stdout.components(separatedBy: #""state":"succeeded""#).count == 4, "\(waited.stdout)")
            let none = try await JobqCommandTests.jobq(socket, ["cancel", "--label", "nosuch", "--yes"])
            #expect(none.status == 0 && none.stderr.contains("no job matches"))
            #expect(try await JobqCommandTests.jobq(socket, ["cancel", "1", "--queue", "builds"]).status == 2)
        }
    }
}

@Suite("jobq events", .timeLimit(.minutes(2)))
struct JobqEventsTests {
    @Test("events prints one line per change; --json one job object per line with its event")
    func events() async throws {
        try await JobqCommandTests.withDaemon { _, socket in
            for json in [false, true] {
                let process = Process()
                process.executableURL = URL(filePath: JobqCommandTests.jobqPath)
                process.arguments = ["--socket", socket, "events"] + (json ? ["--json"] : [])
                let output = Pipe()
                let errors = Pipe()
                process.standardOutput = output
                process.standardError = errors
                try process.run()
                // Subscribed once it says so.
                let ready = await DaemonInterruptTests.line(containing: "watching the jobs of every queue", from: errors)
                #expect(ready.contains("Ctrl-C stops"))
                let id = try await JobqCommandTests.jobq(socket, ["submit", "--", "sh", "-c", "exit 3"]).stdout
                    .trimmingCharacters(in: .newlines)
                let finished = await DaemonInterruptTests.line(containing: json ? #""event":"finished""# : "finished", from: output)
                process.terminate()
                _ = await DaemonTests().exit(of: process)
                if json {
                    #expect(finished.contains(#""id":\#(id)"#) && finished.contains(#""state":"failed""#), "\(finished)")
                } else {
                    #expect(finished.contains("job \(id) finished: failed (exit 3)  default  sh -c 'exit 3'"), "\(finished)")
                }
            }
        }
    }
}
