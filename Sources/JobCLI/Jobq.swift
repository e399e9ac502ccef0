import ArgumentParser
import Foundation
import JobBasics
import JobClient
import JobModel

/// The `jobq` command: the daemon's client for people and scripts.
public struct Jobq: AsyncParsableCommand {
    /// The client's version, printed by `jobq version` beside the daemon's.
    public static let version = JobqVersion.current

    public static let configuration = CommandConfiguration(
        commandName: "jobq",
        abstract: "Submit, inspect and wait for the jobs of jobqd, the durable job queue daemon.",
        discussion: """
            jobq talks to jobqd over its Unix socket: --socket, else $JOBQ_SOCKET, else the daemon's \
            default (/run/jobq/jobq.sock for root; $XDG_RUNTIME_DIR/jobq/jobq.sock for other users, \
            falling back to /run/jobq/jobq.sock when that one does not exist).

            Durations: 90s, 5m, 1h30m, 2d, 500ms, or a number of seconds. Times: ISO 8601 \
            (2026-11-25T18:00:00Z, or without a zone for local time).

            Exit codes:
              0    success
              1    a job failed or was cancelled (wait, submit --wait)
              2    usage: a bad command line
              3    the daemon is unreachable (the message names the socket tried), or went
                   away during a wait and did not come back in time (--reconnect)
              4    the daemon refused the request (its message is printed)
              124  wait/join: the timeout passed first
            """,
        version: version,
        subcommands: [
            Submit.self, Status.self, List.self, Show.self, Logs.self, Cancel.self, Retry.self, Wait.self, Join.self,
            Events.self, Priority.self, Pause.self, Resume.self, Workers.self, Prune.self, Put.self, Work.self,
            DashboardCommand.self, VersionCommand.self,
        ])

    @OptionGroup var global: GlobalOptions

    public init() {}

    /// Parses `arguments` (without the program name), runs the command, and returns jobq's exit
    /// code; messages go to stderr.
    public static func run(_ arguments: [String]) async -> Int32 {
        if let unknown = UsageHints.unknownCommand(arguments) {
            printError(unknown.message ?? "")
            return unknown.code
        }
        var parsed: (any ParsableCommand.Type)?
        do {
            var command = try fastParse(arguments) ?? parseAsRoot(arguments)
            parsed = type(of: command)
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
            return 0
        } catch let exit as CLIExit {
            if let message = exit.message { printError(message) }
            return exit.code
        } catch let error as JobClientError {
            printError("jobq: \(error)")
            return error.exitCode
        } catch let error as ValidationError where parsed != nil && parsed != Jobq.self {
            // A value refused while running: the subcommand's usage, as for one refused in parsing.
            let command = parsed!
            printError("Error: \(error.message)\nUsage: \(usageString(for: command))\n"
                + "  See 'jobq \(command._commandName) --help' for more information.")
            return 2
        } catch {
            if parsed == nil, let hint = UsageHints.submitNeedsSeparator(arguments, error: error) {
                printError(hint.message ?? "")
                return hint.code
            }
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                return 0
            }
            printError(message)
            return code == .validationFailure || error is ValidationError ? 2 : code.rawValue
        }
    }
}

extension Jobq {
    /// `jobq [--socket PATH] submit …` parsed as the submit command alone: building the whole
    /// command tree first costs a few milliseconds of runtime type lookups, a large part of a
    /// submit's time. Anything unusual (help, a bad command line) goes the full way, for the
    /// full messages.
    static func fastParse(_ arguments: [String]) -> (any ParsableCommand)? {
        var rest = arguments[...]
        var global: [String] = []
        if rest.first == "--socket", rest.count >= 2 {
            global = Array(rest.prefix(2))
            rest = rest.dropFirst(2)
        }
        guard rest.first == "submit" else { return nil }
        let options = rest.dropFirst().prefix { $0 != "--" }
        if options.contains(where: { $0 == "-h" || $0 == "--help" || $0 == "help" }) { return nil }
        return try? Submit.parseAsRoot(global + Array(rest.dropFirst()))
    }
}

/// Ends a command with an exit code and, optionally, a message for stderr.
struct CLIExit: Error {
    var code: Int32
    var message: String?
}

extension JobClientError {
    /// 3 when the daemon cannot be reached, went away mid-answer, or answered nonsense; 4 when it refused.
    var exitCode: Int32 {
        switch self {
        case .unreachable, .connectionLost, .badResponse: 3
        case .refused: 4
        }
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Writes to stdout without buffering surprises (log bytes, JSON documents).
func writeOut(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

/// The options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The daemon's Unix socket (default: $JOBQ_SOCKET, else the daemon's default).", valueName: "path"))
    var socket: String?

    /// The socket to use: the flag, `$JOBQ_SOCKET`, the daemon's default for this user, or the
    /// system daemon's when the user's does not exist.
    func socketPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        socket ?? DefaultPaths.clientSocket(environment: environment, uid: getuid())
    }

    func client() -> JobClient {
        JobClient(socketPath: socketPath())
    }
}

/// `--json` for commands that print data.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON document (stable field names) instead of text.")
    var json = false
}

/// Reads job ids from arguments.
func parseIDs(_ texts: [String]) throws -> [JobID] {
    try texts.map { text in
        guard let id = JobID(text) else { throw ValidationError("'\(text)' is not a job id (a positive whole number)") }
        return id
    }
}

/// Reads `--state`'s comma-separated job states.
func parseStates(_ text: String) throws -> [JobState] {
    try text.split(separator: ",").map { name in
        guard let state = JobState(rawValue: String(name)) else {
            throw ValidationError("--state: '\(name)' is not one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return state
    }
}

func parseDuration(_ text: String, _ option: String) throws -> Duration {
    guard let duration = Formats.duration(text) else {
        throw ValidationError("\(option): '\(text)' is not a duration (90s, 5m, 1h30m, 2d, or seconds)")
    }
    return duration
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
