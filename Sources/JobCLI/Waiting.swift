import ArgumentParser
import Foundation
import JobClient
import JobModel

/// `jobq wait`.
struct Wait: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Wait until jobs are finished.",
        discussion: """
            Exits 0 when every job succeeded, 1 when one failed or was cancelled, 124 when the \
            timeout passed first. On a terminal, a progress line on stderr shows done/total, running \
            and failed. Ctrl-C stops waiting (the jobs go on).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Option(help: ArgumentHelp("Give up after this long.", valueName: "duration"))
    var timeout: String?
    @Argument(help: ArgumentHelp("The jobs to wait for.", valueName: "id"))
    var ids: [String]

    func validate() throws {
        if ids.isEmpty { throw ValidationError("give at least one job id") }
    }

    func run() async throws {
        let ids = try parseIDs(ids)
        let timeout = try timeout.map { try parseDuration($0, "--timeout").seconds }
        let result = try await Waiting.wait(client: global.client(), ids: ids, timeout: timeout)
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
            the timeout passed first. On a terminal, a progress line on stderr shows the counts.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Option(name: .shortAndLong, help: "The queue (default: every queue).")
    var queue: String?
    @Option(help: ArgumentHelp("Give up after this long.", valueName: "duration"))
    var timeout: String?

    func run() async throws {
        let timeout = try timeout.map { try parseDuration($0, "--timeout").seconds }
        let client = global.client()
        let queue = self.queue
        let result = try await Waiting.withProgress(client: client, queue: queue) { progress in
            let queues = try await client.queues().filter { queue == nil || $0.name == queue }
            let live = queues.reduce(0) { $0 + $1.live }
            let done = queues.reduce(0) { $0 + ($1.states["succeeded"] ?? 0) + ($1.states["failed"] ?? 0) + ($1.states["cancelled"] ?? 0) }
            let running = queues.reduce(0) { $0 + $1.running }
            let failed = queues.reduce(0) { $0 + ($1.states["failed"] ?? 0) }
            progress("\(done)/\(done + live) done, \(running) running, \(failed) failed")
        } work: {
            try await client.join(queue: queue, timeout: timeout)
        }
        if output.json { try printJSON(result) }
        if !result.done { throw CLIExit(code: 124, message: "jobq: the timeout passed before \(queue.map { "queue \($0)" } ?? "every queue") drained") }
    }
}

enum Waiting {
    struct Result: Encodable {
        var done: Bool
        var jobs: [JobJSON]
    }

    /// Waits for `ids`, showing progress on a terminal.
    static func wait(client: JobClient, ids: [JobID], timeout: Double?) async throws -> WaitResponse {
        let wanted = Set(ids)
        return try await withProgress(client: client, queue: nil) { progress in
            let now = try await client.wait(for: ids, timeout: 0).jobs.filter { wanted.contains($0.id) }
            let done = now.filter(\.state.isTerminal).count
            let running = now.filter { $0.state == .running }.count
            let failed = now.filter { $0.state == .failed || $0.state == .cancelled }.count
            progress("\(done)/\(now.count) done, \(running) running, \(failed) failed")
        } work: {
            try await client.wait(for: ids, timeout: timeout)
        }
    }

    /// Runs `work`; meanwhile, when stderr is a terminal, redraws one progress line after each job
    /// event (`refresh` fetches the figures and calls `progress` with the line).
    static func withProgress<T: Sendable>(
        client: JobClient, queue: String?,
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
                let (changes, changed) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
                try await withThrowingTaskGroup(of: Void.self) { inner in
                    inner.addTask {
                        try await client.events(queue: queue) { _ in
                            changed.yield()
                            return true
                        }
                    }
                    for await _ in changes { try await refresh(draw) }
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
