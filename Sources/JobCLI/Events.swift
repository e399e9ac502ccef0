import ArgumentParser
import Foundation
import JobClient
import JobModel

/// `jobq events`: the daemon's live job changes on the terminal.
struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print job changes as they happen, one line each, until Ctrl-C.",
        discussion: """
            Each line: the time, the job, what happened (submitted, started, requeued, finished \
            with its state), its queue and command. --json prints one job object per line \
            instead, with an "event" field. Ends with exit 3 when jobqd stops.
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "One JSON object per line (the job as --json prints it, and \"event\").")
    var json = false
    @Option(name: .shortAndLong, help: "Only the jobs of this queue.")
    var queue: String?

    func run() async throws {
        let style = Style.forStandardOutput()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            let scope = queue.map { "queue \($0)" } ?? "every queue"
            try await global.client().events(queue: queue, connected: {
                printError("jobq: watching the jobs of \(scope) (Ctrl-C stops)")
            }) { event in
                if json {
                    var data = try encoder.encode(EventJSON(event: event.kind, job: JobJSON(job: event.job)))
                    data.append(UInt8(ascii: "\n"))
                    FileHandle.standardOutput.write(data)
                } else {
                    writeOut(Self.line(event, style: style) + "\n")
                }
                return true
            }
        } catch let error as JobClientError where error.daemonWentAway {
            throw CLIExit(code: 3, message: "jobq: jobqd went away (\(error.reason))")
        }
        throw CLIExit(code: 3, message: "jobq: jobqd ended the event stream (it is stopping)")
    }

    /// `14:03:27  job 42 finished: failed (exit 3)  builds  make test`.
    static func line(_ event: JobEvent, style: Style) -> String {
        let job = event.job
        var what = event.kind
        if event.kind == "finished" {
            what += ": " + style.state(job.state)
            if let code = job.exitCode { what += " (exit \(code))" } else if let signal = job.signal { what += " (signal \(signal))" }
        } else if event.kind == "requeued", job.runAt > Timestamp.now() {
            what += " (runs at \(Formats.describe(job.runAt)))"
        }
        return "\(Formats.describe(Timestamp.now()))  job \(job.id) \(what)  \(job.spec.queue)  "
            + Formats.cell(DisplayText.command(job.spec.command), width: 60)
    }
}

/// One line of `jobq events --json`.
struct EventJSON: Encodable {
    var event: String
    var job: JobJSON

    func encode(to encoder: any Encoder) throws {
        try job.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(event, forKey: .event)
    }

    enum Key: String, CodingKey { case event }
}
