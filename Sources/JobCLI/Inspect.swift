import ArgumentParser
import Foundation
import JobClient
import JobModel
import Synchronization

/// `jobq status`.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the daemon: jobs by state and queue, workers, version, uptime, and the nodes of a shared (PostgreSQL) store.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let status = try await global.client().status()
        if output.json { return try printJSON(status) }
        let style = Style.forStandardOutput()
        let uptime = Formats.describe(milliseconds: Int64(status.uptimeSeconds * 1000))
        let cap = status.workers.maxRunning.map { " (at most \($0) at once over every queue)" } ?? ""
        print("jobqd \(status.version), up \(uptime); workers \(status.workers.busy)/\(status.workers.total) busy\(cap)")
        let states = JobState.allCases
        print(states.map { "\(style.state($0)) \(status.states[$0.rawValue] ?? 0)" }.joined(separator: "  "))
        if !status.queues.isEmpty {
            var table = Table(header: ["QUEUE", "WORKERS", "PAUSED"] + states.map { $0.rawValue.uppercased() })
            table.rightAligned = Set(3..<(3 + states.count))
            for queue in status.queues {
                table.rows.append([queue.name, Self.workers(queue), queue.paused ? "yes" : "no"]
                    + states.map { "\(queue.states[$0.rawValue] ?? 0)" })
            }
            print("")
            print(table.render(style: style))
        }
        if let nodes = status.nodes, !nodes.isEmpty {
            print("")
            print(Self.nodeTable(nodes, now: Timestamp.now()).render(style: style))
        }
    }

    /// The nodes of a shared store: each one's last heartbeat (how long ago), running jobs and
    /// the queues it serves; the node that answered is marked `*`.
    static func nodeTable(_ nodes: [NodeInfo], now: Timestamp) -> Table {
        var table = Table(header: ["NODE", "HEARTBEAT", "RUNNING", "SERVES", "UP SINCE"])
        table.rightAligned = [2]
        for node in nodes {
            let ago = Formats.describe(milliseconds: max(0, now.millisecondsSinceEpoch - node.heartbeatAt.millisecondsSinceEpoch))
            table.rows.append([
                node.name + (node.isSelf ? " *" : ""), node.lapsed ? "\(ago) ago, lapsed" : "\(ago) ago", "\(node.running)",
                node.serves?.joined(separator: ",") ?? "all queues", Formats.describe(node.startedAt),
            ])
        }
        return table
    }

    /// `busy/workers` for a queue of commands; for one of payloads, its jobs under lease and
    /// the consumers waiting for more.
    static func workers(_ queue: QueueInfo) -> String {
        guard queue.kind == "payload" else { return "\(queue.running)/\(queue.concurrency)" }
        return "\(queue.running) leased" + (queue.waitingConsumers > 0 ? ", \(queue.waitingConsumers) waiting" : "")
    }
}

/// `jobq list`.
struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List jobs, the most recent last.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Option(help: ArgumentHelp("Only jobs in these states (comma-separated: queued, blocked, running, succeeded, failed, cancelled).", valueName: "states"))
    var state: String?
    @Option(name: .shortAndLong, help: "Only jobs of this queue.")
    var queue: String?
    @Option(help: "Only jobs with this label.")
    var label: String?
    @Option(help: ArgumentHelp("Only the jobs this user submitted (a name or a uid). When jobs run as their submitters, each user sees only their own, and only root, the daemon's user and the admin group may name another.", valueName: "name"))
    var user: String?
    @Option(parsing: .unconditional, help: "At most this many jobs, the most recent (1 to 100000).")
    var limit: Int = 50
    @Flag(help: "Every job that matches, however many (instead of --limit).")
    var all = false
    @Option(help: ArgumentHelp("Order the jobs shown by what their last run used, the most last: cpu (CPU time), memory (peak resident memory) or took (run time). Default: by id.", valueName: "key"))
    var sort: UsageOrder?

    func validate() throws {
        if !(1...100_000).contains(limit) { throw ValidationError("--limit: must be from 1 to 100000") }
        _ = try states()
    }

    func states() throws -> [JobState] {
        try state.map(parseStates) ?? []
    }

    func run() async throws {
        let states = try states()
        let client = global.client()
        let limit = all ? Int.max : self.limit
        var jobs: [Job] = []
        var cursor: JobID?
        repeat {
            let page = try await client.jobs(states: states, queue: queue, label: label, user: user, after: cursor,
                                             limit: min(1000, limit - jobs.count), descending: true)
            jobs += page.jobs
            cursor = page.nextCursor
        } while cursor != nil && jobs.count < limit
        jobs.reverse()
        if let sort { jobs = sort.sorted(jobs) }
        if output.json { return try printJSON(jobs.map(JobJSON.init)) }
        if jobs.isEmpty { return print("no jobs") }
        let style = Style.forStandardOutput()
        let now = Timestamp.now()
        // With --sort, what the jobs are sorted by is shown.
        let usageColumns = sort == nil ? [] : ["CPU", "PEAK MEM"]
        var table = Table(header: ["ID", "STATE", "QUEUE", "PRI", "TRIES", "EXIT", "CREATED", "RUN AT", "TOOK"] + usageColumns + ["COMMAND"])
        table.rightAligned = sort == nil ? [0, 3, 4, 5] : [0, 3, 4, 5, 9, 10]
        for job in jobs {
            let usage = sort == nil ? [] : [
                job.usage.map { String(format: "%.2fs", $0.cpu.inSeconds) } ?? "-",
                job.usage.map { DisplayText.bytes($0.maxResidentBytes) } ?? "-",
            ]
            table.rows.append([
                "\(job.id)", style.state(job.state), job.spec.queue, "\(job.spec.priority)",
                "\(job.attempts)/\(job.spec.retry.maxAttempts)" + (job.interruptedAttempts > 0 ? "+\(job.interruptedAttempts)" : ""),
                job.exitCode.map(String.init) ?? job.signal.map { "sig\($0)" } ?? "-",
                Formats.describe(job.createdAt), runsNext(job, now: now), took(job),
            ] + usage + [Formats.cell(leaseNote(job) + DisplayText.command(job.spec.command), width: 60)])
        }
        print(table.render(style: style))
        // Said on stderr, so that a pipe reading the rows gets rows only.
        if cursor != nil {
            let total = try await matching(client, states: states)
            printError("\(jobs.count) of \(total.map(String.init) ?? "more") jobs shown, the most recent (--limit N, --all)")
        }
        if jobs.contains(where: { $0.interruptedAttempts > 0 }) {
            print("TRIES +N: attempts interrupted by a stop or crash of jobqd (the job ran again; not counted)")
        }
    }
}

extension List {
    /// How many jobs match the filters, from the daemon's counts; nil with a label filter,
    /// which the counts do not break down.
    func matching(_ client: JobClient, states: [JobState]) async throws -> Int? {
        guard label == nil, user == nil else { return nil }
        let wanted = states.isEmpty ? JobState.allCases : states
        return try await client.status().queues
            .filter { queue == nil || $0.name == queue }
            .reduce(0) { sum, info in sum + wanted.reduce(0) { $0 + (info.states[$1.rawValue] ?? 0) } }
    }
}

/// `jobq list --sort`: what the jobs shown are ordered by, from their last run (jobs without
/// one first, in id order).
enum UsageOrder: String, ExpressibleByArgument, CaseIterable {
    case cpu, memory, took

    func sorted(_ jobs: [Job]) -> [Job] {
        func key(_ job: Job) -> Double {
            switch self {
            case .cpu: job.usage.map { $0.cpu.inSeconds } ?? -1
            case .memory: job.usage.map { Double($0.maxResidentBytes) } ?? -1
            case .took:
                job.startedAt.flatMap { started in job.finishedAt.map { Double(started.duration(to: $0).wholeMilliseconds) } } ?? -1
            }
        }
        return jobs.enumerated().sorted { a, b in
            let (left, right) = (key(a.element), key(b.element))
            return left != right ? left < right : a.offset < b.offset
        }.map(\.element)
    }
}

/// When a queued or blocked job runs next, if it waits for a time: `retry 14:03:27` for a
/// failed attempt's backoff, the time alone for a delayed job; `-` otherwise.
func runsNext(_ job: Job, now: Timestamp) -> String {
    guard job.state == .queued || job.state == .blocked, job.runAt > now else { return "-" }
    return (job.attempts > 0 ? "retry " : "") + Formats.describe(job.runAt)
}

/// Who holds a leased job, and until when, before its payload in a list: `[leased by c1 to 14:03:27] `.
func leaseNote(_ job: Job) -> String {
    guard let lease = job.lease else { return "" }
    return "[leased by \(lease.consumer) to \(Formats.describe(lease.expiresAt))] "
}

/// How long the job's last attempt ran (so far, for a running job).
func took(_ job: Job) -> String {
    guard let started = job.startedAt else { return "-" }
    let end = job.finishedAt ?? Timestamp.now()
    return Formats.describe(milliseconds: end.millisecondsSinceEpoch - started.millisecondsSinceEpoch)
}

/// `jobq show`.
struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one job in full.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: ArgumentHelp("The job.", valueName: "id"))
    var id: String

    func validate() throws {
        _ = try parseIDs([id])
    }

    func run() async throws {
        let client = global.client()
        let job = try await client.job(try parseIDs([id])[0])
        if output.json { return try printJSON(JobJSON(job: job)) }
        let history = job.spec.command.isPayload || job.runs == 0 ? [] : try await client.runs(of: job.id)
        let style = Style.forStandardOutput()
        var lines: [(String, String)] = [("id", "\(job.id)")]
        var state = style.state(job.state)
        if let code = job.exitCode { state += " (exit \(code))" }
        if let signal = job.signal { state += " (signal \(signal))" }
        lines.append(("state", state))
        if let error = job.error { lines.append(("error", error)) }
        if job.spec.command.isPayload {
            lines.append(("payload", DisplayText.command(job.spec.command)))
        } else {
            lines.append(("command", DisplayText.command(job.spec.command) + (job.spec.command.isShell ? "   (sh -c)" : "")))
        }
        lines.append(("queue", "\(job.spec.queue), priority \(job.spec.priority)"))
        if let cwd = job.spec.cwd { lines.append(("cwd", cwd)) }
        for (name, value) in job.spec.env.sorted(by: { $0.key < $1.key }) { lines.append(("env", "\(name)=\(value)")) }
        if let label = job.spec.label { lines.append(("label", label)) }
        if let key = job.spec.idempotencyKey { lines.append(("key", key)) }
        if !job.spec.after.isEmpty { lines.append(("after", job.spec.after.map { "\($0)" }.joined(separator: ", "))) }
        var attempts = "\(job.attempts) of \(job.spec.retry.maxAttempts)"
        if job.interruptedAttempts > 0 {
            attempts += ", and \(job.interruptedAttempts) interrupted by a stop or crash of jobqd (run again, not counted)"
        }
        lines.append(("attempts", attempts))
        if let timeout = job.spec.timeout { lines.append(("timeout", Formats.describe(milliseconds: Int64(timeout.seconds * 1000)))) }
        if !job.spec.limits.isEmpty { lines.append(("limits", describe(job.spec.limits))) }
        lines.append(("created", Formats.describeFull(job.createdAt)))
        let now = Timestamp.now()
        if job.state == .queued || job.state == .blocked, job.runAt > now {
            let wait = Formats.describe(milliseconds: job.runAt.millisecondsSinceEpoch - now.millisecondsSinceEpoch)
            lines.append((job.attempts > 0 ? "retry at" : "runs at", Formats.describeFull(job.runAt) + " (in \(wait))"))
        }
        if let started = job.startedAt { lines.append(("started", Formats.describeFull(started))) }
        if let finished = job.finishedAt {
            lines.append(("finished", Formats.describeFull(finished) + (job.startedAt != nil ? " (took \(took(job)))" : "")))
        }
        if let lease = job.lease {
            let left = Formats.describe(milliseconds: max(0, lease.expiresAt.millisecondsSinceEpoch - now.millisecondsSinceEpoch))
            lines.append(("lease", "held by \(lease.consumer) until \(Formats.describeFull(lease.expiresAt)) (in \(left)), token \(lease.token)"))
        } else if let consumer = job.consumer {
            lines.append(("consumer", consumer))
        }
        if let result = job.result { lines.append(("result", result.compactJSON)) }
        if let uid = job.spec.submitterUID { lines.append(("submitter", "uid \(uid)")) }
        if let usage = job.usage { lines.append(("used", describe(usage))) }
        if job.runs > 1 { lines.append(("runs", "\(job.runs): jobq logs --attempt N \(job.id) prints run N's output")) }
        if history.count > 1 || (history.count == 1 && job.runs > 1) {
            for record in history { lines.append(("run \(record.run)", describe(record))) }
        }
        if let path = job.stdoutPath { lines.append(("stdout", path)) }
        if let path = job.stderrPath { lines.append(("stderr", path)) }
        let width = lines.map(\.0.count).max() ?? 0
        for (name, value) in lines {
            print(style.bold(name + ":") + String(repeating: " ", count: width - name.count + 1) + value)
        }
    }
}

/// `1.20 s CPU (1.18 user, 0.02 system), 35.2 MiB peak memory`.
func describe(_ usage: RunUsage) -> String {
    func seconds(_ duration: Duration) -> String { String(format: "%.2f", duration.inSeconds) }
    return "\(seconds(usage.cpu)) s CPU (\(seconds(usage.userCPU)) user, \(seconds(usage.systemCPU)) system), "
        + "\(DisplayText.bytes(usage.maxResidentBytes)) peak memory"
}

/// `memory 2.00 GiB, CPU 600 s, 1024 files, 256 processes, file size 1.00 GiB`: the limits set.
func describe(_ limits: ResourceLimits) -> String {
    var parts: [String] = []
    if let bytes = limits.memoryBytes { parts.append("memory " + DisplayText.bytes(bytes)) }
    if let seconds = limits.cpuSeconds { parts.append("CPU \(seconds) s") }
    if let count = limits.openFiles { parts.append("\(count) files") }
    if let count = limits.processes { parts.append("\(count) processes") }
    if let bytes = limits.fileSizeBytes { parts.append("file size " + DisplayText.bytes(bytes)) }
    return parts.joined(separator: ", ")
}

/// One ended run: when it ended, how, how long it took and what it used.
func describe(_ record: RunRecord) -> String {
    var text = Formats.describeFull(record.finishedAt)
    if let wall = record.wall { text += ", took " + Formats.describe(milliseconds: wall.wholeMilliseconds) }
    text += ", " + (record.error ?? "succeeded")
    if let usage = record.usage { text += "; " + describe(usage) }
    if let node = record.node { text += "; on node " + node }
    return text
}

extension Command {
    var isShell: Bool {
        if case .shell = self { return true }
        return false
    }
}

/// `jobq logs`.
struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a job's output.",
        discussion: """
            Prints what the job wrote to stdout (or stderr), as it wrote it. --follow keeps printing \
            until the job is finished; if jobqd stops first (a restart, a crash), it exits 3 and \
            says so, never 0. A payload job has no output here (a consumer ran it): jobq says so \
            on stderr.
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "The job's stderr instead of its stdout.")
    var stderr = false
    @Flag(help: "Both streams together, in the order jobqd read them (what a terminal would have shown, to the nearest read).")
    var both = false
    @Flag(name: .shortAndLong, help: "Keep printing new output until the job is finished.")
    var follow = false
    @Option(name: [.customShort("n"), .long], parsing: .unconditional, help: ArgumentHelp("Only the last N lines written so far (then, with --follow, what comes).", valueName: "N"))
    var tail: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("The output of the job's Nth run (from 1, every run counted: interrupted ones and those before a retry by hand; default: the latest).", valueName: "N"))
    var attempt: Int?
    @Argument(help: ArgumentHelp("The job.", valueName: "id"))
    var id: String

    func validate() throws {
        _ = try parseIDs([id])
        if let tail, tail < 0 { throw ValidationError("--tail: must be 0 or more lines") }
        if let attempt, attempt < 1 { throw ValidationError("--attempt: must be 1 or more") }
        if both, stderr { throw ValidationError("give either --stderr or --both, not both") }
    }

    func run() async throws {
        let id = try parseIDs([id])[0]
        let client = global.client()
        let wrote = Mutex(false)
        do {
            try await client.logs(id, stream: both ? "both" : stderr ? "err" : "out", follow: follow, tail: tail, attempt: attempt) { chunk in
                if !chunk.isEmpty { wrote.withLock { $0 = true } }
                FileHandle.standardOutput.write(chunk)
            }
            // Nothing at all: a payload job has no output here (its consumer ran it); say so.
            if !wrote.withLock({ $0 }), try await client.job(id).spec.command.isPayload {
                FileHandle.standardError.write(Data(("jobq: job \(id) carries a payload: a consumer ran it, and jobqd keeps no output of it "
                    + "(its result and how it ended: `jobq show \(id)`)\n").utf8))
            }
        } catch let error as JobClientError where error.daemonWentAway {
            // jobqd ends a follow cut by its shutdown without the body's end, so this is not
            // taken for the end of the job's output.
            throw CLIExit(code: 3, message: "jobq: jobqd went away before job \(id) finished (\(error.reason)); "
                + "`jobq logs --follow \(id)` again once it is back: a job stopped by the drain reruns from the start")
        }
    }
}
