import Foundation
import JobModel
import Testing

/// The real `jobq` given the command lines people get wrong: each refusal says what to do,
/// exits 2, and prints the usage of the command they typed.
@Suite("jobq usage mistakes", .timeLimit(.minutes(2)))
struct JobqUsageTests {
    static let nowhere = "/nonexistent/jobq-usage.sock"

    static func jobq(_ arguments: [String]) async throws -> JobqCommandTests.Run {
        try await JobqCommandTests.jobq(nowhere, arguments)
    }

    @Test("An option after the command's first word: put -- before the command")
    func optionAfterCommand() async throws {
        let run = try await Self.jobq(["submit", "-q", "x", "ls", "-la", "/tmp"])
        #expect(run.status == 2)
        #expect(run.stderr.contains("Unknown option '-la' after the command 'ls'"), "\(run.stderr)")
        #expect(run.stderr.contains("jobq submit -q x -- ls -la /tmp"), "\(run.stderr)")
        #expect(!run.stderr.contains("Did you mean '--at'"))
        // An unknown option before any command is only unknown.
        let before = try await Self.jobq(["submit", "--bogus", "--", "true"])
        #expect(before.status == 2)
        #expect(before.stderr.contains("Unknown option '--bogus'") && !before.stderr.contains("put --"))
    }

    @Test("Negative numbers are values, refused with their real reason")
    func negativeValues() async throws {
        let delay = try await Self.jobq(["submit", "--delay", "-5s", "--", "true"])
        #expect(delay.status == 2)
        #expect(delay.stderr.contains("--delay: '-5s' is not a duration"), "\(delay.stderr)")
        let retries = try await Self.jobq(["submit", "--retries", "-1", "--", "true"])
        #expect(retries.status == 2)
        #expect(retries.stderr.contains("--retries: must be from 0 to"), "\(retries.stderr)")
        let timeout = try await Self.jobq(["wait", "--timeout", "-3", "1"])
        #expect(timeout.stderr.contains("--timeout: '-3' is not a duration"), "\(timeout.stderr)")
        // -p -5 is a priority: it passes the command line and reaches for the daemon (exit 3).
        let priority = try await Self.jobq(["submit", "-p", "-5", "--", "true"])
        #expect(priority.status == 3, "\(priority.stderr)")
    }

    @Test("A misspelt command gets the closest one; help on an unknown topic is an error")
    func unknownCommands() async throws {
        let typo = try await Self.jobq(["stauts"])
        #expect(typo.status == 2)
        #expect(typo.stderr.contains("'stauts' is not a jobq command. Did you mean 'status'?"), "\(typo.stderr)")
        let swapped = try await Self.jobq(["lsit"])
        #expect(swapped.stderr.contains("Did you mean 'list'?"))
        let far = try await Self.jobq(["frobnicate"])
        #expect(far.status == 2 && !far.stderr.contains("Did you mean"))
        let topic = try await Self.jobq(["help", "nosuch"])
        #expect(topic.status == 2)
        #expect(topic.stderr.contains("there is no help on 'nosuch'"), "\(topic.stderr)")
        #expect(topic.stdout.isEmpty)
        let help = try await Self.jobq(["help", "status"])
        #expect(help.status == 0 && help.stdout.contains("OVERVIEW: Show the daemon"))
    }

    @Test("A refused value prints the usage of the command typed, not jobq's", arguments: [
        (["submit", "--env", "NOEQUALS", "--", "true"], "Usage: jobq submit"),
        (["show", "x"], "Usage: jobq show"),
        (["list", "--state", "bogus"], "Usage: jobq list"),
        (["cancel", "1", "y"], "Usage: jobq cancel"),
        (["prune", "--older-than", "forever"], "Usage: jobq prune"),
    ])
    func subcommandUsage(_ arguments: [String], _ usage: String) async throws {
        let run = try await Self.jobq(arguments)
        #expect(run.status == 2)
        #expect(run.stderr.contains(usage), "\(run.stderr)")
        #expect(!run.stderr.contains("<subcommand>"))
    }

    @Test("prune names an unknown option before the missing --older-than")
    func pruneUnknownOption() async throws {
        let unknown = try await Self.jobq(["prune", "--state", "failed"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("Unknown option '--state'"), "\(unknown.stderr)")
        let missing = try await Self.jobq(["prune"])
        #expect(missing.status == 2 && missing.stderr.contains("give --older-than"))
    }

    @Test("Help texts print each default once")
    func defaultsOnce() async throws {
        for command in UsageTestCommands.all {
            let help = try await Self.jobq([command, "--help"])
            #expect(help.status == 0)
            let text = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            let doubled = text.matches(of: try Regex(#"\(default: [^)]*\)\.? \(default: "#)).count
            #expect(doubled == 0, "\(command): \(text)")
        }
    }

    @Test("--cwd is resolved against the caller's directory")
    func relativeDirectory() async throws {
        try await JobqCommandTests.withDaemon { _, socket in
            let id = try await JobqCommandTests.jobq(socket, ["submit", "--cwd", "..", "--", "pwd"]).stdout
                .trimmingCharacters(in: .newlines)
            let shown = try await JobqCommandTests.jobq(socket, ["show", "--json", id])
            let parent = (FileManager.default.currentDirectoryPath as NSString).deletingLastPathComponent
            #expect(shown.stdout.contains("\"cwd\" : \"\(parent)\"") || shown.stdout.contains("\"cwd\":\"\(parent)\""), "\(shown.stdout)")
            #expect(try await JobqCommandTests.jobq(socket, ["wait", id]).status == 0)
            #expect(try await JobqCommandTests.jobq(socket, ["logs", id]).stdout == parent + "\n")
        }
    }
}

enum UsageTestCommands {
    static let all = ["submit", "status", "list", "show", "logs", "cancel", "retry", "wait", "join", "pause", "resume",
                      "workers", "prune", "version"]
}
