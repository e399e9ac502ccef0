import ArgumentParser
import Foundation
import JobBasics
import JobClient
import JobModel

/// `jobq cancel`.
struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cancel jobs: queued and blocked ones never run, running ones are stopped.",
        discussion: """
            A running job's process group gets SIGTERM, then SIGKILL after the daemon's kill grace. \
            Allowed to the job's submitter, the daemon's user and root. A job already cancelled \
            stays so (exit 0). With a filter instead of ids (jobq cancel --queue builds), every \
            queued, blocked or running job it selects (or those in --state), after a question on \
            a terminal (--yes without one).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var jobs: JobSelection

    func run() async throws {
        let client = global.client()
        let ids = try await jobs.resolve(client: client, verb: "cancel", defaultStates: [.queued, .blocked, .running])
        try await eachJob(ids, json: output.json, verb: "cancelled") { try await client.cancel($0) }
    }
}

/// `jobq retry`.
struct Retry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Queue failed or cancelled jobs again, from their first attempt.",
        discussion: """
            Allowed to the job's submitter, the daemon's user and root. With a filter instead of \
            ids (jobq retry --queue builds), every failed or cancelled job it selects, after a \
            question on a terminal (--yes without one).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var jobs: JobSelection

    func run() async throws {
        let client = global.client()
        let ids = try await jobs.resolve(client: client, verb: "retry", defaultStates: [.failed, .cancelled])
        try await eachJob(ids, json: output.json, verb: "queued again") { try await client.retry($0) }
    }
}

/// Applies `action` to each job, going on past refusals; exits 4 when one was refused.
func eachJob(_ ids: [JobID], json: Bool, verb: String, _ action: (JobID) async throws -> Job) async throws {
    var jobs: [Job] = []
    var refused = false
    for id in ids {
        do {
            let job = try await action(id)
            jobs.append(job)
            if !json { print("\(id) \(verb)") }
        } catch let error as JobClientError {
            guard case .refused = error else { throw error }
            printError("jobq: job \(id): \(error)")
            refused = true
        }
    }
    if json { try printJSON(jobs.map(JobJSON.init)) }
    if refused { throw CLIExit(code: 4) }
}

/// `jobq pause`.
struct Pause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop starting jobs of a queue; running ones go on.",
        discussion: "For the daemon's user and root. The queue stays paused across daemon restarts, until jobq resume.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The queue.")
    var queue: String = JobSpec.defaultQueue

    func run() async throws {
        let info = try await global.client().pause(queue)
        if output.json { return try printJSON(info) }
        print("queue \(info.name) paused (\(info.running) running, \(info.states["queued"] ?? 0) queued)")
    }
}

/// `jobq resume`.
struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start jobs of a paused queue again.", discussion: "For the daemon's user and root.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The queue.")
    var queue: String = JobSpec.defaultQueue

    func run() async throws {
        let info = try await global.client().resume(queue)
        if output.json { return try printJSON(info) }
        print("queue \(info.name) resumed")
    }
}

/// `jobq workers`.
struct Workers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show or set how many jobs of a queue run at once.",
        discussion: """
            jobq workers: every queue. jobq workers QUEUE: that queue. jobq workers QUEUE N: set it \
            (1 to 1024; for the daemon's user and root). Fewer workers take effect as running jobs finish. \
            The number is kept across restarts, as a pause is, and takes precedence over the \
            configuration's (docs/operations.md).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The queue.")
    var queue: String?
    @Argument(help: "The new number of workers.")
    var count: Int?

    func validate() throws {
        if let count, !(1...1024).contains(count) { throw ValidationError("the number of workers must be from 1 to 1024") }
    }

    func run() async throws {
        let client = global.client()
        let queues: [QueueInfo]
        if let queue, let count {
            queues = [try await client.setConcurrency(queue, count)]
        } else if let queue {
            queues = [try await client.queue(queue)]
        } else {
            queues = try await client.queues()
        }
        if output.json { return try printJSON(queues) }
        var table = Table(header: ["QUEUE", "WORKERS", "BUSY", "PAUSED"])
        table.rightAligned = [1, 2]
        for info in queues {
            table.rows.append([info.name, "\(info.concurrency)", "\(info.running)", info.paused ? "yes" : "no"])
        }
        print(table.render(style: Style.forStandardOutput()))
    }
}

/// `jobq priority`.
struct Priority: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Change the priority of a queued or blocked job.",
        discussion: "Higher runs first within its queue; the next claim orders it so. Allowed to the job's submitter, the daemon's user and root.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: ArgumentHelp("The job.", valueName: "id"))
    var id: String
    @Argument(help: ArgumentHelp("Its new priority (-1000000 to 1000000).", valueName: "priority"))
    var priority: Int

    func validate() throws {
        _ = try parseIDs([id])
        if !JobLimits.priority.contains(priority) { throw ValidationError("priority: must be from -1000000 to 1000000") }
    }

    func run() async throws {
        let job = try await global.client().setPriority(try parseIDs([id])[0], priority)
        if output.json { return try printJSON(JobJSON(job: job)) }
        print("\(job.id) priority \(job.spec.priority)")
    }
}

/// `jobq prune`.
struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete finished jobs (succeeded, failed, cancelled) and their logs.",
        discussion: "For the daemon's user and root.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Option(parsing: .unconditional, help: ArgumentHelp("Only jobs finished longer ago than this (required).", valueName: "duration"))
    var olderThan: String?

    func validate() throws {
        if olderThan != nil { _ = try age() }
    }

    /// The age from --older-than. Its absence is refused in `run`, after parsing, so that an
    /// unknown option (`prune --state failed`) is the error named, not the missing one.
    func age() throws -> Duration {
        guard let olderThan else { throw ValidationError("give --older-than: jobq prune --older-than 7d") }
        return try parseDuration(olderThan, "--older-than")
    }

    func run() async throws {
        let age = try age()
        let result = try await global.client().prune(olderThan: age.seconds)
        if output.json { return try printJSON(result) }
        print("pruned \(result.pruned) job\(result.pruned == 1 ? "" : "s")")
    }
}

/// `jobq version`.
struct VersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the versions of jobq and of the daemon.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    struct Versions: Encodable {
        var client: String
        var daemon: String?
    }

    func run() async throws {
        let daemon: String?
        var failure: JobClientError?
        do {
            daemon = try await global.client().status().version
        } catch let error as JobClientError {
            daemon = nil
            failure = error
        }
        if output.json {
            try printJSON(Versions(client: Jobq.version, daemon: daemon))
        } else {
            print("jobq \(Jobq.version)")
            if let daemon { print("jobqd \(daemon)") }
        }
        if let failure { throw failure }
    }
}
