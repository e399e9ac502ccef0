import Foundation
import JobBasics
import JobModel
import Logging
import Subprocess
import Synchronization
import SystemPackage

/// How ``ProcessJobExecutor`` runs commands.
public struct ProcessExecutorConfiguration: Sendable {
    /// Where output goes when a job carries no output paths (`<logDirectory>/<id>.out`, `.err`).
    public var logDirectory: String
    /// The working directory of jobs that name none.
    public var workingDirectory: String
    /// The most bytes kept of each of a job's output streams; the rest is read and dropped,
    /// and a last line in the file says how much.
    public var outputLimit: Int
    /// How long a job has between SIGTERM and SIGKILL when it is stopped.
    public var killGrace: Duration
    /// The environment every job starts from (its own `env` is laid over it), without
    /// systemd's variables.
    public var environment: [String: String]
    /// The daemon's state directory, given to every job as `JOBQ_STATE_DIR`: with
    /// `JOBQ_JOB_ID` it marks the job's processes, so that those left behind (a daemon the job
    /// forked, a crashed jobqd's jobs) can be found and stopped. Nil: no mark, no search.
    public var stateDirectory: String?

    /// Variables systemd gives the daemon that must not reach jobs: they describe the daemon's
    /// own sockets, watchdog and invocation.
    public static let systemdVariables: Set<String> = [
        "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID",
        "INVOCATION_ID", "JOURNAL_STREAM", "SYSTEMD_EXEC_PID", "MANAGERPID", "MAINPID",
        "MEMORY_PRESSURE_WATCH", "MEMORY_PRESSURE_WRITE", "TRIGGER_UNIT", "TRIGGER_PATH", "TRIGGER_TIMER_REALTIME_USEC",
        "TRIGGER_TIMER_MONOTONIC_USEC", "CREDENTIALS_DIRECTORY", "FDSTORE",
    ]

    /// `environment` without systemd's variables.
    public static func jobEnvironment(from environment: [String: String]) -> [String: String] {
        environment.filter { !systemdVariables.contains($0.key) }
    }

    public init(
        logDirectory: String,
        workingDirectory: String,
        outputLimit: Int = 64 << 20,
        killGrace: Duration = .seconds(10),
        environment: [String: String] = ProcessExecutorConfiguration.jobEnvironment(
            from: ProcessInfo.processInfo.environment),
        stateDirectory: String? = nil
    ) {
        self.stateDirectory = stateDirectory
        self.logDirectory = logDirectory
        self.workingDirectory = workingDirectory
        self.outputLimit = outputLimit
        self.killGrace = killGrace
        self.environment = environment
    }
}

/// Runs jobs as real processes with swift-subprocess.
///
/// Each job gets a new session (so a new process group, led by the job, detached from any
/// terminal), its argv exec'd directly or `/bin/sh -c` only for a shell job, its cwd, the
/// configured environment with its own `env` and `JOBQ_JOB_ID`, `JOBQ_QUEUE`, `JOBQ_ATTEMPT`
/// added, no standard input, and its standard output and error copied into two files, each
/// capped at ``ProcessExecutorConfiguration/outputLimit``. A timeout or a cancellation sends
/// SIGTERM to the whole group, waits the grace period, then sends SIGKILL to the group, so no
/// grandchild survives.
public struct ProcessJobExecutor: JobExecutor {
    public let configuration: ProcessExecutorConfiguration
    private let logger: Logger

    public init(configuration: ProcessExecutorConfiguration, logger: Logger = Logger(label: "jobq.runner")) {
        self.configuration = configuration
        self.logger = logger
    }

    /// How the subprocess part of a run ended.
    private enum RunEnd: Sendable {
        case finished(TerminationStatus)
        case failedToStart(SubprocessError)
        case interrupted
        case timedOut
        case timerStopped
    }

    /// SIGKILLs the processes still carrying the mark of `jobs` (a killed daemon's jobs, before
    /// they run again); returns how many. Nothing without a ``ProcessExecutorConfiguration/stateDirectory``.
    public func stopLeftovers(of jobs: [JobID]) async -> Int {
        guard let stateDirectory = configuration.stateDirectory, !jobs.isEmpty else { return 0 }
        return JobProcesses.kill(jobs: Set(jobs.map(\.rawValue)), stateDirectory: stateDirectory)
    }

    public func run(_ job: Job) async -> JobOutcome {
        let outPath = job.stdoutPath ?? "\(configuration.logDirectory)/\(job.id).out"
        let errPath = job.stderrPath ?? "\(configuration.logDirectory)/\(job.id).err"
        // Output files are created on the first byte a stream carries: most jobs print nothing
        // on one stream or both, and creating two inodes per job was most of the spawn cost
        // (perf: 84 % of runner-bench in ext4's inode allocation). A previous attempt's files go
        // first, so that what is there belongs to this attempt.
        // Both files normally share one directory: check it once.
        let directories = [outPath, errPath].map { ($0 as NSString).deletingLastPathComponent }
        for directory in directories[0] == directories[1] ? [directories[0]] : directories {
            guard access(directory, W_OK | X_OK) == 0 else {
                let code = errno
                return .spawnFailed(errno: code, message: "cannot write its output file in \(directory): \(Errno(rawValue: code))")
            }
        }
        unlink(outPath)
        unlink(errPath)

        var variables = configuration.environment
        variables.merge(job.spec.env) { _, job in job }
        let executable: Executable
        let arguments: Arguments
        switch job.spec.command {
        case .argv(let argv):
            let program = argv.first ?? ""
            if program.containsByte(UInt8(ascii: "/")) {
                executable = .path(FilePath(program))
            } else if let found = Self.find(program, onSearchPath: variables["PATH"]) {
                executable = .path(FilePath(found))
            } else {
                executable = .name(program)  // swift-subprocess searches, and reports it not found
            }
            arguments = Arguments(Array(argv.dropFirst()))
        case .shell(let line):
            executable = .path("/bin/sh")
            arguments = ["-c", line]
        }
        variables["JOBQ_JOB_ID"] = String(job.id.rawValue)
        variables["JOBQ_QUEUE"] = job.spec.queue
        variables["JOBQ_ATTEMPT"] = String(job.attempts)
        if let stateDirectory = configuration.stateDirectory { variables["JOBQ_STATE_DIR"] = stateDirectory }
        var keyed: [Environment.Key: String] = [:]
        for (name, value) in variables {
            if let key = Environment.Key(rawValue: name) { keyed[key] = value }
        }
        let environment = Environment.custom(keyed)
        let workingDirectory = FilePath(job.spec.cwd ?? configuration.workingDirectory)

        var options = PlatformOptions()
        options.createSession = true
        // The implicit last step is SIGKILL, to the group as the step before it.
        options.teardownSequence = [
            .gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: configuration.killGrace)
        ]
        let platformOptions = options
        let limit = configuration.outputLimit
        let timeout = job.spec.timeout

        let leader = LeaderPID()
        let (end, timedOut) = await withTaskGroup(of: RunEnd.self) { group -> (RunEnd, Bool) in
            group.addTask {
                do {
                    let result = try await Subprocess.run(
                        executable, arguments: arguments, environment: environment,
                        workingDirectory: workingDirectory, platformOptions: platformOptions,
                        input: .none, output: .sequence, error: .sequence
                    ) { execution in
                        leader.value.store(execution.processIdentifier.value, ordering: .releasing)
                        async let out: Void = copy(execution.standardOutput, to: outPath, limit: limit)
                        async let err: Void = copy(execution.standardError, to: errPath, limit: limit)
                        _ = try await (out, err)
                    }
                    return .finished(result.terminationStatus)
                } catch let error as SubprocessError {
                    return .failedToStart(error)
                } catch {
                    return .interrupted
                }
            }
            if let timeout {
                group.addTask {
                    do {
                        try await Task.sleep(for: timeout)
                        return .timedOut
                    } catch {
                        return .timerStopped
                    }
                }
            }
            var timedOut = false
            while let next = await group.next() {
                switch next {
                case .timedOut:
                    timedOut = true
                    group.cancelAll()  // tears the run down; its result comes next
                case .timerStopped:
                    continue
                case .finished, .failedToStart, .interrupted:
                    group.cancelAll()  // stops the timer
                    return (next, timedOut)
                }
            }
            return (.interrupted, timedOut)
        }

        // No process outlives its job. The leader has exited (and the teardown of a stopped job
        // stops waiting once it has); a background child, a grandchild that ignored SIGTERM, or
        // one still handling it must not survive: SIGKILL whatever is left of the group, then
        // whatever left the group (`setsid`) but still carries the job's mark.
        let pid = leader.value.load(ordering: .acquiring)
        if pid > 0 {
            _ = kill(-pid, SIGKILL)
            if let stateDirectory = configuration.stateDirectory {
                let killed = JobProcesses.kill(jobs: [job.id.rawValue], stateDirectory: stateDirectory, since: pid)
                if killed > 0 {
                    logger.notice("killed processes the job left outside its process group",
                                  metadata: ["job": "\(job.id)", "queue": "\(job.spec.queue)", "processes": "\(killed)"])
                }
            }
        }

        let outcome: JobOutcome
        switch end {
        case .finished(let status):
            let signal: Int32? = if case .signaled(let number) = status { number } else { nil }
            if timedOut, let timeout {
                outcome = .timedOut(after: timeout, signal: signal)
            } else if Task.isCancelled {
                outcome = .cancelled(signal: signal)
            } else {
                switch status {
                case .exited(let code): outcome = .exited(code: code)
                case .signaled(let number): outcome = .signaled(signal: number)
                }
            }
        case .failedToStart(let error):
            outcome = .spawnFailed(errno: error.underlyingError?.rawValue, message: Self.describe(error, job: job))
        case .interrupted, .timedOut, .timerStopped:
            if timedOut, let timeout { outcome = .timedOut(after: timeout, signal: nil) } else { outcome = .cancelled(signal: nil) }
        }
        logger.debug("job ran", metadata: ["job": "\(job.id)", "queue": "\(job.spec.queue)", "outcome": "\(outcome)"])
        return outcome
    }

    /// The first `directory/name` on `searchPath` that is an executable regular file, looked
    /// up in the directories swift-subprocess would search (the absolute entries of the job's
    /// PATH); nil when none is, or when there is no PATH.
    ///
    /// Given a bare name, swift-subprocess spawns once per PATH entry until one does not fail
    /// with ENOENT: a fork and a failed exec for each directory before the right one (`true`,
    /// in the 8th directory of this machine's PATH, took 2.5 times as long to run as
    /// `/bin/sh -c true`). A `stat` and an `access` per directory are what `execvp` does too.
    static func find(_ name: String, onSearchPath searchPath: String?) -> String? {
        guard let searchPath, !name.isEmpty else { return nil }
        for directory in searchPath.split(separator: ":", omittingEmptySubsequences: true)
        where directory.utf8.first == UInt8(ascii: "/") {
            let candidate = directory.utf8.last == UInt8(ascii: "/") ? "\(directory)\(name)" : "\(directory)/\(name)"
            var info = stat()
            guard stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 else { continue }
            return candidate
        }
        return nil
    }

    /// A sentence for a command that could not start.
    static func describe(_ error: SubprocessError, job: Job) -> String {
        let errnoText = error.underlyingError.map { ": \($0)" } ?? ""
        switch error.code {
        case .executableNotFound:
            if case .argv(let argv) = job.spec.command { return "no executable '\(argv.first ?? "")' found\(errnoText)" }
            return "no executable found\(errnoText)"
        case .failedToChangeWorkingDirectory:
            return "cannot change to the working directory '\(job.spec.cwd ?? "")'\(errnoText)"
        default:
            return "\(error)"
        }
    }
}

/// The job's process id, which is also its process group's id (it leads a new session).
private final class LeaderPID: Sendable {
    let value = Atomic<pid_t>(0)
}

/// A job's output file, created (mode 0600) when the first byte arrives; owned by one copy.
///
/// Job output shares the disk with the store: it stops being written while the disk's free
/// space is below a reserve (a tenth of the filesystem, at most 64 MiB, checked at creation and
/// every MiB), so that a job's output cannot fill the disk the store needs to record the job's
/// end and take new submits.
private struct LazyOutputFile: ~Copyable {
    let path: String
    private var descriptor: FileDescriptor?
    private(set) var stopped: String?
    private var untilCheck = 0

    static let checkEvery = 1 << 20
    static let maxReserve: UInt64 = 64 << 20

    init(path: String) { self.path = path }

    deinit { try? descriptor?.close() }

    /// Appends bytes, creating the file first. A full disk, or free space below the reserve,
    /// drops the rest of the output, never the job.
    mutating func write(_ bytes: UnsafeRawBufferPointer) {
        if stopped != nil { return }
        if untilCheck <= 0 {
            untilCheck = Self.checkEvery
            if let free = Self.freeBelowReserve(path) {
                stopped = "less than \(free >> 20) MiB free on the disk"
                return
            }
        }
        untilCheck -= bytes.count
        do {
            if descriptor == nil {
                descriptor = try FileDescriptor.open(
                    FilePath(path), .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: [.ownerReadWrite])
            }
            _ = try descriptor?.writeAll(bytes)
        } catch {
            stopped = "\(error)"
        }
    }

    /// Writes the last line, past any stop: it is short, and says why output is missing.
    mutating func writeNote(_ text: String) {
        guard let descriptor else { return }
        _ = try? Array(text.utf8).withUnsafeBytes { try descriptor.writeAll($0) }
    }

    /// The reserve (in bytes) when the free space of `path`'s filesystem is below it.
    private static func freeBelowReserve(_ path: String) -> UInt64? {
        var info = statvfs()
        guard statvfs((path as NSString).deletingLastPathComponent, &info) == 0 else { return nil }
        let total = UInt64(info.f_blocks) * UInt64(info.f_frsize)
        let free = UInt64(info.f_bavail) * UInt64(info.f_frsize)
        let reserve = min(maxReserve, total / 10)
        return free < reserve ? reserve : nil
    }
}

/// Copies a stream into the file at `path` (created on the first byte), keeping at most `limit`
/// bytes; reads (and drops) the rest, so that the job never blocks on a full pipe, and says at
/// the end of the file how much it dropped, and why when the disk was the reason.
private func copy(_ stream: SubprocessOutputSequence, to path: String, limit: Int) async throws {
    var file = LazyOutputFile(path: path)
    var written = 0
    var dropped = 0
    for try await buffer in stream {
        let keep = file.stopped == nil ? min(buffer.count, max(0, limit - written)) : 0
        if keep > 0 {
            buffer.withUnsafeBytes { bytes in
                file.write(UnsafeRawBufferPointer(rebasing: bytes[0..<keep]))
            }
            if file.stopped == nil { written += keep }
        }
        dropped += buffer.count - (file.stopped == nil ? keep : 0)
    }
    if dropped > 0 {
        let reason = file.stopped.map { " (\($0))" } ?? ""
        file.writeNote("\n[jobq: output truncated after \(written) bytes\(reason); \(dropped) more bytes dropped]\n")
    }
}
