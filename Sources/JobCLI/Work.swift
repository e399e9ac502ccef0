import ArgumentParser
import Foundation
import JobBasics
import JobClient
import JobModel

/// `jobq work`: a consumer for shell users, as `xargs` is for lines: each payload job of the
/// queue runs a command, with the payload on its stdin.
struct Work: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Consume a queue's payload jobs: run a command for each, with the payload on its stdin.",
        discussion: """
            Each of --concurrency slots leases one job of the queue (waiting for one when none is \
            ready), runs COMMAND with the payload's JSON on stdin and JOBQ_JOB_ID, JOBQ_QUEUE, \
            JOBQ_ATTEMPT, JOBQ_RUN, JOBQ_LEASE_TOKEN and JOBQ_CONSUMER in its environment, and \
            extends the lease every third of --lease while it runs. Exit status 0 completes the \
            job; any other fails the attempt (the job runs again if it has retries left). A job \
            cancelled meanwhile is heard at the next extension: its command gets SIGTERM.

            SIGTERM or SIGINT: lease nothing more, let the running commands finish and report \
            them, then exit 0. A second one stops the commands (SIGTERM) and gives their jobs back \
            to the queue, the attempt not counted. When jobqd restarts, jobq work waits up to \
            --reconnect for it and goes on.

            The command runs without a shell, found on PATH, unless --shell runs it through \
            /bin/sh -c; its stdout and stderr are jobq work's.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: [.customShort("j"), .long], parsing: .unconditional, help: "How many jobs to work on at once (1 to 1000).")
    var concurrency: Int = 1
    @Option(parsing: .unconditional, help: ArgumentHelp("How long each lease lasts unless extended (1s to 12h).", valueName: "duration"))
    var lease: String = "60s"
    @Option(help: ArgumentHelp("The name shown with the jobs this consumer holds (default: jobq work, the host and pid).", valueName: "name"))
    var consumer: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Stop after this many jobs.", valueName: "n"))
    var maxJobs: Int?
    @Flag(help: "Run the command as one /bin/sh -c string.")
    var shell = false
    @OptionGroup var reconnect: ReconnectOptions
    @Argument(help: ArgumentHelp("The queue whose jobs to work on.", valueName: "queue"))
    var queue: String
    @Argument(help: ArgumentHelp("The command and its arguments, after --.", valueName: "command"))
    var command: [String] = []

    func validate() throws {
        if !JobSpec.isValidQueueName(queue) {
            throw ValidationError("'\(queue)' is not a queue name: 1 to \(JobSpec.Limits.queueName) characters from A-Z a-z 0-9 . _ - and not start with . or -")
        }
        if command.isEmpty { throw ValidationError("missing the command: jobq work QUEUE [options] -- command [args...]") }
        guard (1...1000).contains(concurrency) else { throw ValidationError("--concurrency: must be from 1 to 1000") }
        let seconds = try leaseDuration().seconds
        guard LeaseRequest.leaseBounds.contains(seconds) else { throw ValidationError("--lease: must be from 1s to 12h") }
        if let maxJobs, maxJobs < 1 { throw ValidationError("--max-jobs: must be 1 or more") }
        if let consumer, consumer.isEmpty || consumer.utf8.count > LeaseRequest.consumerBytes {
            throw ValidationError("--consumer: must be 1 to \(LeaseRequest.consumerBytes) bytes")
        }
    }

    func leaseDuration() throws -> Duration { try parseDuration(lease, "--lease") }

    func run() async throws {
        // A command that exits without reading its stdin must not take jobq work down with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        let settings = WorkLoop.Settings(
            queue: queue, command: command, shell: shell, leaseSeconds: try leaseDuration().seconds,
            consumer: consumer ?? "jobq work \(ProcessInfo.processInfo.hostName) pid \(getpid())",
            maxJobs: maxJobs, reconnect: try reconnect.window())
        try await WorkLoop(client: global.client(), settings: settings).run(slots: concurrency)
    }
}
