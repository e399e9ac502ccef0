import Foundation
import JobBasics
import JobModel
import Logging
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
    /// Whether each job runs as the user who submitted it (``JobIdentity``), rather than as
    /// the daemon's user.
    public var runAsSubmitter = false
    /// With ``runAsSubmitter``: whether jobs submitted by root may run (as root).
    public var allowRootJobs = false
    /// Where each run's kept output is copied too (`nil`: only its files).
    public var outputMirror: OutputMirror?

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
        stateDirectory: String? = nil,
        runAsSubmitter: Bool = false,
        allowRootJobs: Bool = false,
        outputMirror: OutputMirror? = nil
    ) {
        self.outputMirror = outputMirror
        self.stateDirectory = stateDirectory
        self.runAsSubmitter = runAsSubmitter
        self.allowRootJobs = allowRootJobs
        self.logDirectory = logDirectory
        self.workingDirectory = workingDirectory
        self.outputLimit = outputLimit
        self.killGrace = killGrace
        self.environment = environment
    }
}

/// Runs jobs as real processes, started and watched by the ``ProcessLauncher``.
///
/// Each job gets a new session (so a new process group, led by the job, detached from any
/// terminal), its argv exec'd directly (a bare program name searched on the job's PATH, as
/// `execvp` does; `argv[0]` as given) or `/bin/sh -c` only for a shell job, its cwd, the
/// configured environment with its own `env` and `JOBQ_JOB_ID`, `JOBQ_QUEUE`, `JOBQ_ATTEMPT`
/// added, no standard input, and its standard output and error copied into two files, each
/// capped at ``ProcessExecutorConfiguration/outputLimit``. A timeout or a cancellation sends
/// SIGTERM to the whole group, waits the grace period, then sends SIGKILL to the group, so no
/// grandchild survives; when the leader exits, whatever is left of its group is SIGKILLed.
public struct ProcessJobExecutor: JobExecutor {
    public let configuration: ProcessExecutorConfiguration
    /// The thread that starts and watches the processes.
    let launcher: ProcessLauncher
    private let logger: Logger
    /// `configuration.environment` as `NAME=value` entries, without jobq's own marks.
    private let baseEnvironment: [String]
    /// Who jobs run as, when they run as their submitters.
    let identities = IdentityCache()

    public init(configuration: ProcessExecutorConfiguration, launcher: ProcessLauncher,
                logger: Logger = Logger(label: "jobq.runner")) {
        self.configuration = configuration
        self.launcher = launcher
        self.logger = logger
        baseEnvironment = configuration.environment.filter { !Self.markNames.contains($0.key) }.map { "\($0.key)=\($0.value)" }
    }

    /// SIGKILLs the processes still carrying the mark of `jobs` (a killed daemon's jobs, before
    /// they run again); returns how many. Nothing without a ``ProcessExecutorConfiguration/stateDirectory``.
    public func stopLeftovers(of jobs: [JobID]) async -> Int {
        guard let stateDirectory = configuration.stateDirectory, !jobs.isEmpty else { return 0 }
        return JobProcesses.kill(jobs: Set(jobs.map(\.rawValue)), stateDirectory: stateDirectory)
    }

    public func start(_ job: Job, stop: RunStop, onEnd: @escaping @Sendable (RunEnd) -> Void) {
        let outPath = job.stdoutPath ?? "\(configuration.logDirectory)/\(job.id).out"
        let errPath = job.stderrPath ?? "\(configuration.logDirectory)/\(job.id).err"
        // Output files are created on the first byte a stream carries: most jobs print nothing
        // on one stream or both, and creating two inodes per job was most of the spawn cost
        // (perf: 84 % of runner-bench in ext4's inode allocation). A previous attempt's files go
        // first, so that what is there belongs to this attempt.
        // Both files normally share one directory: check it once.
        let directories = [outPath, errPath].map(Self.directory(of:))
        for directory in directories[0] == directories[1] ? [directories[0]] : directories {
            guard access(directory, W_OK | X_OK) == 0 else {
                let code = errno
                return onEnd(RunEnd(.spawnFailed(errno: code, message: "cannot write its output file in \(directory): \(Errno(rawValue: code))")))
            }
        }
        let combinedPath = Job.combinedLogPath(besideStdout: outPath)
        unlink(outPath)
        unlink(errPath)
        if let combinedPath { unlink(combinedPath) }

        var identity: JobIdentity?
        if configuration.runAsSubmitter {
            switch submitter(of: job) {
            case .success(let user): identity = user
            case .failure(let refusal): return onEnd(RunEnd(.spawnFailed(errno: nil, message: refusal.message)))
            }
        }
        let variables = environment(of: job, identity: identity)
        let path: String
        let arguments: [String]
        switch job.spec.command {
        case .argv(let argv):
            let program = argv.first ?? ""
            if program.containsByte(UInt8(ascii: "/")) {
                path = program
            } else if let found = Self.find(program, onSearchPath: variables.searchPath ?? Self.defaultSearchPath) {
                path = found
            } else {
                return onEnd(RunEnd(.spawnFailed(errno: ENOENT, message: "no executable '\(program)' found on the job's PATH")))
            }
            arguments = argv
        case .shell(let line):
            path = "/bin/sh"
            arguments = ["/bin/sh", "-c", line]
        case .payload:
            // The engine never claims a payload queue's jobs; a consumer leases them.
            return onEnd(RunEnd(.spawnFailed(errno: EINVAL, message: "a payload job has no command to run")))
        }
        let workingDirectory = job.spec.cwd ?? identity?.home ?? configuration.workingDirectory
        let timeout = job.spec.timeout
        var mirror: (@Sendable (OutputMirror.Stream, UnsafeRawBufferPointer) -> Void)?
        if let outputMirror = configuration.outputMirror {
            let (id, run) = (job.id, job.runs)
            mirror = { stream, bytes in outputMirror.append(id, run, stream, bytes) }
        }
        let request = LaunchRequest(
            path: path, arguments: arguments, environment: variables.entries, workingDirectory: workingDirectory,
            stdoutPath: outPath, stderrPath: errPath, combinedPath: combinedPath, outputLimit: configuration.outputLimit,
            timeout: timeout, killGrace: configuration.killGrace, limits: job.spec.limits, identity: identity,
            mirror: mirror)
        launcher.start(request, stop: stop) { [configuration, launcher, logger] report in
            // No process outlives its job: the launcher SIGKILLed the leader's process group when
            // the leader exited; what left the group (`setsid`) but still carries the job's mark
            // goes too.
            if report.pid > 0, let stateDirectory = configuration.stateDirectory {
                let killed = JobProcesses.kill(jobs: [job.id.rawValue], stateDirectory: stateDirectory, since: report.pid,
                                               skipping: launcher.unreapedLeaders)
                if killed > 0 {
                    logger.notice("killed processes the job left outside its process group",
                                  metadata: ["job": "\(job.id)", "queue": "\(job.spec.queue)", "processes": "\(killed)"])
                }
            }
            let outcome = Self.outcome(of: report, timeout: timeout, stopped: stop.isRequested, path: path,
                                       workingDirectory: workingDirectory, limits: job.spec.limits)
            logger.debug("job ran", metadata: ["job": "\(job.id)", "queue": "\(job.spec.queue)", "outcome": "\(outcome)"])
            onEnd(RunEnd(outcome, usage: report.usage))
        }
    }

    /// What a launch's report means for the job: a run the timeout or a stop ended reports
    /// that, with the signal that ended it.
    private static func outcome(
        of report: LaunchReport, timeout: Duration?, stopped: Bool, path: String, workingDirectory: String, limits: ResourceLimits
    ) -> JobOutcome {
        func stoppedBy(_ signal: Int32?) -> JobOutcome? {
            if report.timedOut, let timeout { return .timedOut(after: timeout, signal: signal) }
            return stopped ? .cancelled(signal: signal) : nil
        }
        switch report.end {
        case .exited(let code):
            return stoppedBy(nil) ?? .exited(code: code)
        case .signaled(let signal):
            return stoppedBy(signal) ?? limitReached(signal, limits: limits, usage: report.usage) ?? .signaled(signal: signal)
        case .notStarted:
            return .cancelled(signal: nil)
        case .spawnFailed(let code, let inWorkingDirectory):
            let reason = String(cString: strerror(code))
            if inWorkingDirectory {
                return .spawnFailed(errno: code, message: "cannot change to the working directory '\(workingDirectory)': \(reason)")
            }
            return .spawnFailed(errno: code, message: "cannot run '\(path)': \(reason)")
        }
    }

    /// The limit a signal says the command reached: SIGXCPU at its CPU limit, SIGKILL once it
    /// went on past it (the hard limit), SIGXFSZ at its file size limit.
    private static func limitReached(_ signal: Int32, limits: ResourceLimits, usage: RunUsage?) -> JobOutcome? {
        if let seconds = limits.cpuSeconds {
            let cpuLimit = "CPU limit of \(seconds) s"
            if signal == SIGXCPU { return .limitReached(signal: signal, limit: cpuLimit) }
            if signal == SIGKILL, let usage, usage.cpu >= .seconds(seconds) { return .limitReached(signal: signal, limit: cpuLimit) }
        }
        if signal == SIGXFSZ, let bytes = limits.fileSizeBytes {
            return .limitReached(signal: signal, limit: "file size limit of \(bytes) bytes")
        }
        return nil
    }

    /// The directory of a file's path: what precedes its last `/` (`/` for a file at the root,
    /// `.` for a bare name). Byte work on the string: NSString's `deletingLastPathComponent`
    /// bridged and normalised the path, a measurable part of each job's start.
    static func directory(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        if slash == path.utf8.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// glibc's `execvp` search path when there is no PATH.
    static let defaultSearchPath = "/bin:/usr/bin"

    /// A reason a job cannot run as its submitter.
    struct Refusal: Error {
        var message: String
    }

    /// Who job `job` runs as when jobs run as their submitters: the user of its submitter's uid
    /// as the system knows it now.
    private func submitter(of job: Job) -> Result<JobIdentity, Refusal> {
        guard let uid = job.spec.submitterUID else {
            return .failure(Refusal(message: "it has no submitter recorded, and jobs run as their submitters (run_as = submitter)"))
        }
        if uid == 0, !configuration.allowRootJobs {
            return .failure(Refusal(message: "its submitter is root, and jobs of root are refused (allow_root_jobs is off)"))
        }
        guard let user = identities.identity(of: uid) else {
            return .failure(Refusal(message: "its submitter, uid \(uid), is not a user of this machine now"))
        }
        return .success(user)
    }

    /// The job's environment as `NAME=value` entries, and its PATH: the daemon's, then its
    /// user's `HOME`, `USER`, `LOGNAME` and `SHELL` when it runs as its submitter, then its own.
    private func environment(of job: Job, identity: JobIdentity?) -> (entries: [String], searchPath: String?) {
        var marks = [
            "JOBQ_JOB_ID=\(job.id.rawValue)", "JOBQ_QUEUE=\(job.spec.queue)", "JOBQ_ATTEMPT=\(job.attempts)",
            "JOBQ_RUN=\(job.runs)",
        ]
        if let stateDirectory = configuration.stateDirectory { marks.append("JOBQ_STATE_DIR=\(stateDirectory)") }
        if job.spec.env.isEmpty, identity == nil {
            return (baseEnvironment + marks, configuration.environment["PATH"])
        }
        var variables = configuration.environment
        if let identity { variables.merge(identity.environment) { _, user in user } }
        variables.merge(job.spec.env) { _, job in job }
        for name in Self.markNames { variables[name] = nil }
        return (variables.map { "\($0.key)=\($0.value)" } + marks, variables["PATH"])
    }

    /// The variables every job gets from jobq, which no other source may set.
    static let markNames: Set<String> = ["JOBQ_JOB_ID", "JOBQ_QUEUE", "JOBQ_ATTEMPT", "JOBQ_RUN", "JOBQ_STATE_DIR"]

    /// The first `directory/name` on `searchPath` that is an executable regular file, looked
    /// up in the absolute entries of the job's PATH (relative entries would depend on the
    /// daemon's own directory); nil when none is, or when there is no PATH.
    ///
    /// Searched here, so that a job is spawned once: spawning once per PATH entry until one
    /// does not fail with ENOENT, as swift-subprocess did, cost a fork and a failed exec for each
    /// directory before the right one. A `stat` and an `access` per directory are what `execvp`
    /// does too.
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
}
