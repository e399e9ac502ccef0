import Foundation
import JobQueueTesting
import Synchronization
import Testing

/// The README's five-minute tour, run as written: its daemon line starts jobqd, its block runs
/// in bash from the package's folder. Only the throwaway folder is moved to the test's own.
@Suite("The README's tour", .timeLimit(.minutes(2)))
struct ReadmeTourTests {
    /// The lines between `<!-- name -->` and `<!-- /name -->` in the README's code block.
    static func block(_ name: String) throws -> String {
        let readme = try String(contentsOfFile: FileManager.default.currentDirectoryPath + "/README.md", encoding: .utf8)
        let start = try #require(readme.range(of: "<!-- \(name) -->\n```sh\n"))
        let end = try #require(readme.range(of: "```\n<!-- /\(name) -->", range: start.upperBound..<readme.endIndex))
        return String(readme[start.upperBound..<end.lowerBound])
    }

    @Test("Every command of the tour works and prints what its comment says")
    func tour() async throws {
        let fixture = try DaemonTests.Fixture()
        let folder = fixture.directory + "/tour"
        let binaries = URL(filePath: DaemonTests.jobqdPath).deletingLastPathComponent().path()
        func placed(_ text: String) -> String {
            text.replacingOccurrences(of: "/tmp/jobq-tour", with: folder)
                .replacingOccurrences(of: "$PWD/.build/debug", with: binaries)
        }
        let daemonLine = placed(try Self.block("tour-daemon")).trimmingCharacters(in: .whitespacesAndNewlines)
        let words = daemonLine.split(separator: " ").map(String.init)
        #expect(words.first == ".build/debug/jobqd")
        let daemon = try fixture.launch(DaemonTests.jobqdPath, Array(words.dropFirst()))
        #expect(await fixture.awaitNotification("READY=1"))

        let shell = Process()
        shell.executableURL = URL(filePath: "/bin/bash")
        shell.arguments = ["-c", placed(try Self.block("tour"))]
        shell.currentDirectoryURL = URL(filePath: FileManager.default.currentDirectoryPath)
        shell.environment = ProcessInfo.processInfo.environment.filter { $0.key != "JOBQ_SOCKET" }
        let output = Pipe()
        shell.standardOutput = output
        shell.standardError = output
        try shell.run()
        let text = String(decoding: await onOwnThread { output.fileHandleForReading.readDataToEndOfFile() }, as: UTF8.self)
        #expect(await DaemonTests().exit(of: shell) == 0, "\(text)")
        let lines = text.split(separator: "\n").map(String.init)
        // What the comments promise, in order.
        let promised = ["1", "hello", "2", "3", "4", "5", "exit 1", "streamed", "exit 3", "8", #"{"to":"ann"}"#]
        var rest = lines[...]
        for mark in promised {
            let index = try #require(rest.firstIndex { $0 == mark || $0.hasSuffix(mark) }, "'\(mark)' in:\n\(text)")
            rest = rest[(index + 1)...]
        }
        #expect(text.contains(try Regex(#"\n +2 +queued +builds +0"#)), "\(text)")
        #expect(text.contains(try Regex(#"\n +4 +blocked +builds"#)))
        #expect(text.contains("attempts:  3 of 3") || text.contains("attempts: 3 of 3"), "\(text)")
        #expect(text.contains(#""id":1"#) && text.contains(#""created":true"#))
        daemon.terminate()
        #expect(await DaemonTests().exit(of: daemon) == 0)
        // The queue's order: high (3) before low (2), and 4 only after 2.
        let order = lines.filter { ["low", "high", "after-2"].contains($0) }
        #expect(order.isEmpty)  // their output went to their logs, not the terminal
    }
}
