import ArgumentParser
import Foundation
import JobBasics
import JobClient
import JobModel

/// `jobq submit`.
struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Submit a command as a job and print its id.",
        discussion: """
            The command runs as given, without a shell (arguments with ;, $(), quotes or newlines \
            reach it unchanged), in the current directory unless --cwd says otherwise, with the \
            daemon's environment plus --env. --shell runs one string through /bin/sh -c instead.

            The answer comes once the job is durable; the id alone goes to stdout, so that \
            id=$(jobq submit -- make test) works.

            --stdin submits one shell command per input line (blank lines skipped) as one \
            all-or-nothing batch and prints one id per line; with --split each line is instead a \
            program and its arguments, separated by blanks, run without a shell (as tsp, nq or \
            xargs -L1 run them: no quoting, no expansion, no redirection; no /bin/sh per job). \
            The batch is one request, at most the \
            daemon's body limit (max_body_bytes, 1 MiB by default: some 20,000 short commands); \
            split a longer input (split -l) and submit each part, or raise the limit.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    @Option(name: .shortAndLong, help: "The queue.")
    var queue: String = JobSpec.defaultQueue
    @Option(name: .shortAndLong, parsing: .unconditional, help: "Higher runs first within the queue (-1000000 to 1000000).")
    var priority: Int = 0
    @Option(parsing: .unconditional, help: ArgumentHelp("Start no earlier than this long from now.", valueName: "duration"))
    var delay: String?
    @Option(help: ArgumentHelp("Start no earlier than this time (ISO 8601).", valueName: "time"))
    var at: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("The job's time limit: stop an attempt that runs longer (SIGTERM to its process group, then SIGKILL). Not a limit on --wait.", valueName: "duration"))
    var timeout: String?
    @Option(parsing: .unconditional, help: "Run again after a failure this many times (exponential backoff from 1 s).")
    var retries: Int = 0
    @Option(help: ArgumentHelp("Start only after this job succeeded (repeatable).", valueName: "id"))
    var after: [String] = []
    @Option(help: ArgumentHelp("Idempotency key: while a job with this key is live, submitting it again returns that job.", valueName: "key"))
    var key: String?
    @Option(help: ArgumentHelp("A label to find the job by (jobq list --label).", valueName: "text"))
    var label: String?
    @Option(help: ArgumentHelp("An environment variable for the job (repeatable).", valueName: "name=value"))
    var env: [String] = []
    @Option(help: ArgumentHelp("The working directory, absolute or relative to the current one (default: the current directory).", valueName: "dir"))
    var cwd: String?
    @Flag(help: "Run the command as one /bin/sh -c string.")
    var shell = false
    @Flag(help: "Read one shell command per line from stdin and submit them as one batch.")
    var stdin = false
    @Flag(help: "With --stdin: split each line at blanks into a program and its arguments, run without a shell.")
    var split = false
    @Flag(help: "Wait for the job and exit with its exit code (1 when it was cancelled or failed without one; 128+N when killed by signal N).")
    var wait = false
    @Flag(inversion: .prefixedNo, help: ArgumentHelp(
        "With --wait and one command: print the job's stdout and stderr to jobq's as it writes them (default: when stdout is a terminal).",
        valueName: "follow"))
    var follow: Bool?
    @OptionGroup(title: "Limits") var limits: LimitOptions
    @OptionGroup var reconnect: ReconnectOptions
    @Argument(help: ArgumentHelp("The command and its arguments, after -- (so that its options are not taken for jobq's).", valueName: "command"))
    var command: [String] = []

    var commandArguments: [String] { command }

    func validate() throws {
        if stdin, !commandArguments.isEmpty { throw ValidationError("give either --stdin or a command, not both") }
        if !stdin, commandArguments.isEmpty { throw ValidationError("missing the command: jobq submit [options] -- command [args...]") }
        if split, !stdin { throw ValidationError("--split splits the lines of --stdin: give --stdin too") }
        if reconnect.reconnect != nil, !wait { throw ValidationError("--reconnect is for --wait: give --wait too") }
        if follow == true, !wait { throw ValidationError("--follow is for --wait: give --wait too") }
        if follow == true, stdin { throw ValidationError("--follow streams one job's output: not with --stdin") }
        if split, shell { throw ValidationError("give either --split (no shell) or --shell, not both") }
        if delay != nil, at != nil { throw ValidationError("give either --delay or --at, not both") }
        if retries < 0 || retries >= RetryPolicy.maxAttemptsLimit {
            throw ValidationError("--retries: must be from 0 to \(RetryPolicy.maxAttemptsLimit - 1)")
        }
        if !JobSpec.isValidQueueName(queue) {
            throw ValidationError("--queue: '\(queue)' must be 1 to \(JobSpec.Limits.queueName) characters from A-Z a-z 0-9 . _ - and not start with . or -")
        }
        var probe = try template()
        if !commandArguments.isEmpty {
            probe.command = shell ? .shell(commandArguments.joined(separator: " ")) : .argv(commandArguments)
            _ = try validated(probe)
        }
    }

    /// The job's settings from the options, every value checked; the command is a placeholder.
    func template() throws -> JobSpec {
        var template = JobSpec(command: .argv(["true"]), queue: queue, priority: priority)
        let here = FileManager.default.currentDirectoryPath
        template.cwd = cwd.map { $0.hasPrefix("/") ? $0 : ((here as NSString).appendingPathComponent($0) as NSString).standardizingPath } ?? here
        try Scheduling(delay: delay, at: at, retries: retries, after: after, key: key, label: label).apply(to: &template)
        if let timeout {
            let duration = try parseDuration(timeout, "--timeout")
            guard duration > .zero else { throw ValidationError("--timeout: must be more than 0") }
            template.timeout = duration
        }
        template.limits = try limits.limits()
        for pair in env {
            guard let (name, value) = pair.splitAtFirstByte(UInt8(ascii: "=")), !name.isEmpty else {
                throw ValidationError("--env: '\(pair)' is not name=value")
            }
            template.env[name] = value
        }
        return template
    }

    func specs() throws -> [JobSpec] {
        let template = try template()
        let commands: [Command]
        if stdin {
            var lines: [Command] = []
            while let line = readLine(strippingNewline: true) {
                if JobLimits.isBlankShell(line) { continue }  // the daemon's own rule for a blank command
                if split {
                    lines.append(.argv(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)))
                } else {
                    lines.append(.shell(line))
                }
            }
            guard !lines.isEmpty else { throw ValidationError("--stdin: no command on stdin") }
            commands = lines
        } else if shell {
            commands = [.shell(commandArguments.joined(separator: " "))]
        } else {
            commands = [.argv(commandArguments)]
        }
        return try commands.map { command in
            var spec = template
            spec.command = command
            return try validated(spec)
        }
    }

    func run() async throws {
        let specs = try specs()
        let client = global.client()
        let submitted: SubmitResponse
        do {
            submitted = try await client.submit(specs)
        } catch JobClientError.refused(let status, "payload_too_large", let message) where stdin {
            // The batch is atomic, so jobq does not split it; say how to.
            throw JobClientError.refused(
                status: status, code: "payload_too_large",
                message: "\(message): --stdin sends its \(specs.count) commands as one atomic request; "
                    + "submit them in smaller parts (for example `split -l 5000` and one `jobq submit --stdin` per part), "
                    + "or raise jobqd's max_body_bytes")
        }
        let ids = submitted.jobs.map(\.id)
        for (item, spec) in zip(submitted.jobs, specs) where !item.created {
            printError(Self.keyHit(item, spec))
        }
        if !wait {
            if output.json {
                try printJSON(try await Self.fetch(submitted.jobs, client: client).map(JobJSON.init))
            } else {
                writeOut(ids.map { "\($0)\n" }.joined())
            }
            return
        }
        let following = ids.count == 1 && !output.json && (follow ?? (isatty(STDOUT_FILENO) == 1))
        if !output.json {
            // Followed, the id goes to stderr: stdout is the job's own output.
            let line = ids.map { "\($0)\n" }.joined()
            if following { FileHandle.standardError.write(Data(("jobq: job " + line).utf8)) } else { writeOut(line) }
        }
        let window = try reconnect.window()
        let result = following
            ? try await Self.following(ids[0], client: client, reconnect: window)
            : try await Waiting.wait(client: client, ids: ids, timeout: nil, reconnect: window)
        if output.json { try printJSON(result.jobs.map(JobJSON.init)) }
        if ids.count == 1, let job = result.jobs.first {
            let code: Int32 = switch job.state {
            case .succeeded: 0
            case .failed: job.exitCode.map { $0 == 0 ? 1 : $0 } ?? job.signal.map { 128 + $0 } ?? 1
            default: 1
            }
            if code != 0 { throw CLIExit(code: code, message: Waiting.failureLine(job)) }
            return
        }
        try Waiting.exitForResult(result.jobs, done: result.done)
    }
}

extension Submit {
    /// The stderr note for a submit whose idempotency key named a live job: its id is printed
    /// as a new one's would be, and the note says so, and whether the command differs.
    static func keyHit(_ item: SubmitResponse.Item, _ spec: JobSpec) -> String {
        let key = spec.idempotencyKey ?? ""
        var note = "jobq: key '\(key)' names job \(item.id), still \(item.state.rawValue): nothing new was submitted"
        if let existing = item.job, existing.spec.command != spec.command {
            note += "; that job runs `\(DisplayText.command(existing.spec.command))`, not `\(DisplayText.command(spec.command))`"
        }
        return note
    }

    /// The submitted jobs in full, for `--json`: a key's existing job comes with the answer; the
    /// new ones are read back (one request each for a few, pages of the list for a batch).
    static func fetch(_ items: [SubmitResponse.Item], client: JobClient) async throws -> [Job] {
        var found: [JobID: Job] = [:]
        for item in items { if let job = item.job { found[item.id] = job } }
        let missing = Set(items.map(\.id)).subtracting(found.keys)
        if missing.count <= 20 {
            for id in missing { found[id] = try await client.job(id) }
        } else if let first = missing.min(), let last = missing.max() {
            var cursor = JobID(first.rawValue - 1)
            while cursor < last {
                let page = try await client.jobs(after: cursor, limit: 1000)
                for job in page.jobs where missing.contains(job.id) { found[job.id] = job }
                guard let next = page.nextCursor else { break }
                cursor = next
            }
        }
        return items.compactMap { found[$0.id] }
    }
}

extension Submit {
    /// Waits for the job while its stdout and stderr are copied to jobq's, as `systemd-run
    /// --wait --pipe` shows a unit's. The copies end with the job; one cut by a restart of
    /// jobqd stops copying (the wait goes on, and says so).
    static func following(_ id: JobID, client: JobClient, reconnect: Duration) async throws -> WaitResponse {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (stream, handle) in [("out", FileHandle.standardOutput), ("err", FileHandle.standardError)] {
                group.addTask {
                    do {
                        try await client.logs(id, stream: stream, follow: true) { handle.write($0) }
                    } catch let error as JobClientError where error.daemonWentAway {
                        printError("jobq: the job's std\(stream) is no longer followed: \(error.reason)")
                    }
                }
            }
            let result = try await Waiting.wait(client: client, ids: [id], timeout: nil, reconnect: reconnect, progress: false)
            try await group.waitForAll()
            return result
        }
    }
}
