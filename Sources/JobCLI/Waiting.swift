import ArgumentParser
import Foundation
import JobClient
import JobModel

/// `jobq wait`.
struct Wait: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Wait until jobs are finished.",
        discussion: """
            With a filter instead of ids (jobq wait --queue builds), every job it selects now. \
            Exits 0 when every job succeeded, 1 when one failed or was cancelled, 124 when the \
            timeout passed first. On a terminal, a progress line on stderr shows done/total, running \
            and failed. Ctrl-C stops waiting (the jobs go on). A restart of jobqd does not end the \
            wait (see --reconnect).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Option(parsing: .unconditional, help: ArgumentHelp("Give up after this long.", valueName: "duration"))
    var timeout: String?
    @OptionGroup var reconnect: ReconnectOptions
    @OptionGroup var jobs: JobSelection

    func validate() throws {
        _ = try timeout.map { try parseDuration($0, "--timeout") }
    }

    func run() async throws {
        let ids = try await jobs.resolve(client: global.client(), verb: "wait for", defaultStates: [], confirm: false)
        if ids.isEmpty { return }
        let timeout = try timeout.map { try parseDuration($0, "--timeout") }
        let result = try await Waiting.wait(client: global.client(), ids: ids, timeout: timeout, reconnect: try reconnect.window())
        if output.json { try printJSON(Waiting.Result(done: result.done, jobs: result.jobs.map(JobJSON.init))) }
        try Waiting.exitForResult(result.jobs, done: result.done)
    }
}

/// `jobq join`.
struct Join: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Wait until a queue (or every queue) has no queued, blocked or running job.",
        discussion: """
            asyncio's Queue.join for the daemon's queues. Exits 0 when the queue drained, 124 when \
            the timeout passed first. On a terminal, a progress line on stderr shows the counts. A \
            restart of jobqd does not end the wait (see --reconnect).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Option(name: .shortAndLong, help: "The queue (default: every queue).")
    var queue: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Give up after this long.", valueName: "duration"))
    var timeout: String?
    @OptionGroup var reconnect: ReconnectOptions

    func validate() throws {
        _ = try timeout.map { try parseDuration($0, "--timeout") }
    }

    func run() async throws {
        let deadline = try timeout.map { ContinuousClock.now + (try parseDuration($0, "--timeout")) }
        let window = try reconnect.window()
        let client = global.client()
        let queue = self.queue
        // An unknown queue is refused (exit 4), as `jobq workers nosuch` refuses it, not
        // taken for a drained one.
        if let queue { _ = try await client.queue(queue) }
        let result = try await Waiting.withProgress(client: client, queue: queue, reconnect: window) { progress in
            let queues = try await client.queues().filter { queue == nil || $0.name == queue }
            let live = queues.reduce(0) { $0 + $1.live }
            let done = queues.reduce(0) { $0 + ($1.states["succeeded"] ?? 0) + ($1.states["failed"] ?? 0) + ($1.states["cancelled"] ?? 0) }
            let running = queues.reduce(0) { $0 + $1.running }
            let failed = queues.reduce(0) { $0 + ($1.states["failed"] ?? 0) }
            progress("\(done)/\(done + live) done, \(running) running, \(failed) failed")
        } work: {
            try await Waiting.surviving(client: client, window: window, deadline: deadline) {
                try await client.join(queue: queue, timeout: Waiting.secondsLeft(until: deadline))
            }
        }
        if output.json { try printJSON(result) }
        if !result.done { throw CLIExit(code: 124, message: "jobq: the timeout passed before \(queue.map { "queue \($0)" } ?? "every queue") drained") }
    }
}

/// `--reconnect`, for the commands that wait.
struct ReconnectOptions: ParsableArguments {
    static let defaultWindow = Duration.seconds(90)

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "When jobqd goes away during the wait (a restart, a crash), wait up to this long for it to come back, "
            + "then go on waiting; 0 gives up at once. Giving up exits 3 (for wait and join: 124 once their "
            + "own --timeout, the wait's limit, has passed). "
            + "Default: 90s, more than a systemd stop takes (TimeoutStopSec=45s).",
        valueName: "duration"))
    var reconnect: String?

    func validate() throws {
        _ = try window()
    }

    func window() throws -> Duration {
        try reconnect.map { try parseDuration($0, "--reconnect") } ?? Self.defaultWindow
    }
}

enum Waiting {
    struct Result: Encodable {
        var done: Bool
        var jobs: [JobJSON]
    }

    /// Waits for `ids`, showing progress on a terminal, across restarts of the daemon that end
    /// within `reconnect` (``surviving(client:window:deadline:_:)``).
    static func wait(
        client: JobClient, ids: [JobID], timeout: Duration?, reconnect: Duration, progress showProgress: Bool = true
    ) async throws -> WaitResponse {
        let wanted = Set(ids)
        let deadline = timeout.map { ContinuousClock.now + $0 }
        if !showProgress {
            return try await surviving(client: client, window: reconnect, deadline: deadline) {
                try await client.wait(for: ids, timeout: secondsLeft(until: deadline))
            }
        }
        return try await withProgress(client: client, queue: nil, reconnect: reconnect) { progress in
            let now = try await client.wait(for: ids, timeout: 0).jobs.filter { wanted.contains($0.id) }
            let done = now.filter(\.state.isTerminal).count
            let running = now.filter { $0.state == .running }.count
            let failed = now.filter { $0.state == .failed || $0.state == .cancelled }.count
            progress("\(done)/\(now.count) done, \(running) running, \(failed) failed")
        } work: {
            try await surviving(client: client, window: reconnect, deadline: deadline) {
                try await client.wait(for: ids, timeout: secondsLeft(until: deadline))
            }
        }
    }

    /// The seconds from now until `deadline`, at least 0; `nil` (no limit) without one.
    static func secondsLeft(until deadline: ContinuousClock.Instant?) -> Double? {
        deadline.map { max(.zero, ContinuousClock.now.duration(to: $0)).seconds }
    }

    /// Runs `call` (a wait or a join) again when jobqd goes away under it and comes back within
    /// `window` (``JobClient/reconnecting(within:until:onLoss:_:)``), saying so on stderr. When
    /// it does not come back: exit 124 if `deadline` (the --timeout) passed meanwhile, else 3.
    static func surviving<T>(
        client: JobClient, window: Duration, deadline: ContinuousClock.Instant?, _ call: () async throws -> T
    ) async throws -> T {
        var lost = false
        do {
            return try await client.reconnecting(within: window, until: deadline, onLoss: { error in
                lost = true
                guard window > .zero else { return }
                let clearLine = isatty(STDERR_FILENO) == 1 ? "\r\u{1B}[2K" : ""  // a progress line may be drawn
                printError(clearLine + "jobq: jobqd went away during the wait (\(error.reason)); "
                    + "waiting up to \(describe(window)) for it to come back at \(client.socketPath)")
            }, call)
        } catch let error as JobClientError where lost {
            if let deadline, deadline <= .now {
                throw CLIExit(code: 124, message: "jobq: the timeout passed while jobqd was away: \(error)")
            }
            if window == .zero { throw CLIExit(code: 3, message: "jobq: jobqd went away during the wait: \(error)") }
            throw CLIExit(code: 3, message: "jobq: jobqd did not come back within \(describe(window)): \(error)")
        }
    }

    static func describe(_ duration: Duration) -> String {
        Formats.describe(milliseconds: duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// Runs `work`; meanwhile, when stderr is a terminal, redraws one progress line after each job
    /// event (`refresh` fetches the figures and calls `progress` with the line). The line follows
    /// jobqd across restarts within `reconnect`; when it cannot, it stops, and `work` decides.
    static func withProgress<T: Sendable>(
        client: JobClient, queue: String?, reconnect: Duration,
        refresh: @escaping @Sendable (_ progress: (String) -> Void) async throws -> Void,
        work: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        guard isatty(STDERR_FILENO) == 1 else { return try await work() }
        let draw: @Sendable (String) -> Void = { line in
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(line)".utf8))
        }
        defer { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
        try await refresh(draw)  // the first line, before anything can end
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await work() }
            group.addTask {
                do {
                    var reconnected = false
                    try await client.reconnecting(within: reconnect) {
                        defer { reconnected = true }
                        let (changes, changed) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
                        if reconnected { changed.yield() }  // the figures changed while jobqd was away
                        try await withThrowingTaskGroup(of: Void.self) { inner in
                            inner.addTask {
                                defer { changed.finish() }
                                try await client.events(queue: queue) { _ in
                                    changed.yield()
                                    return true
                                }
                                // The daemon ended the stream: it is stopping.
                                throw JobClientError.connectionLost(socket: client.socketPath, reason: "the event stream ended")
                            }
                            for await _ in changes { try await refresh(draw) }
                            try await inner.next()  // the stream's end, and why
                        }
                    }
                } catch is JobClientError {
                    // The line stops; the wait itself says what happened.
                }
                return nil
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let result { return result }
            }
            throw CancellationError()
        }
    }

    /// Exit 0 when every job succeeded, 1 when one failed or was cancelled, 124 at a timeout.
    static func exitForResult(_ jobs: [Job], done: Bool) throws {
        if !done {
            let pending = jobs.filter { !$0.state.isTerminal }.map { "\($0.id)" }.joined(separator: ", ")
            throw CLIExit(code: 124, message: "jobq: the timeout passed; not finished: \(pending)")
        }
        let failed = jobs.filter { $0.state != .succeeded }
        if !failed.isEmpty {
            throw CLIExit(code: 1, message: failed.map(failureLine).joined(separator: "\n"))
        }
    }

    static func failureLine(_ job: Job) -> String {
        var line = "jobq: job \(job.id) \(job.state.rawValue)"
        if let code = job.exitCode { line += " (exit \(code))" }
        if let signal = job.signal { line += " (signal \(signal))" }
        if let error = job.error { line += ": \(error)" }
        return line
    }
}
