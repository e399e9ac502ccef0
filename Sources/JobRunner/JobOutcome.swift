import JobModel

/// How one run of a job's command ended.
public enum JobOutcome: Hashable, Sendable, CustomStringConvertible {
    /// The command exited by itself with this status (0 is success).
    case exited(code: Int32)
    /// The command was killed by a signal it did not get from jobq.
    case signaled(signal: Int32)
    /// The command ran past its timeout and was torn down (SIGTERM to its process group, the
    /// grace period, then SIGKILL); `signal` is what ended it, when known.
    case timedOut(after: Duration, signal: Int32?)
    /// The run was cancelled (a user's cancel, or the daemon draining) and torn down the same way.
    case cancelled(signal: Int32?)
    /// The command could not be started: the system's errno when there was one, and why.
    case spawnFailed(errno: Int32?, message: String)
    /// The command reached one of its resource limits and was killed by `signal` for it
    /// (SIGXCPU, SIGXFSZ, or SIGKILL past the CPU limit); `limit` names it (`CPU limit 10 s`).
    case limitReached(signal: Int32, limit: String)

    /// Whether the job succeeded (exit status 0).
    public var isSuccess: Bool { self == .exited(code: 0) }

    /// The record the store keeps of this run's end.
    public var completion: JobCompletion {
        switch self {
        case .exited(0): .succeeded
        case .exited(let code): .failed(exitCode: code, signal: nil, reason: description)
        case .signaled(let signal): .failed(exitCode: nil, signal: signal, reason: description)
        case .timedOut(_, let signal): .failed(exitCode: nil, signal: signal, reason: description)
        case .cancelled(let signal): .failed(exitCode: nil, signal: signal, reason: description)
        case .spawnFailed: .failed(exitCode: nil, signal: nil, reason: description)
        case .limitReached(let signal, _): .failed(exitCode: nil, signal: signal, reason: description)
        }
    }

    /// One sentence: `"exited with status 2"`, `"timed out after 30 s"`, ….
    public var description: String {
        switch self {
        case .exited(let code): "exited with status \(code)"
        case .signaled(let signal): "killed by signal \(signal) (\(signalName(signal)))"
        case .timedOut(let after, _): "timed out after \(formatSeconds(after)) and was stopped"
        case .cancelled: "cancelled while running and was stopped"
        case .spawnFailed(_, let message): "could not start: \(message)"
        case .limitReached(let signal, let limit): "killed by signal \(signal) (\(signalName(signal))): it reached its \(limit)"
        }
    }
}

func formatSeconds(_ duration: Duration) -> String {
    let seconds = duration.inSeconds
    return seconds == seconds.rounded() ? "\(Int64(seconds)) s" : "\(seconds) s"
}

func signalName(_ signal: Int32) -> String {
    switch signal {
    case 1: "SIGHUP"
    case 2: "SIGINT"
    case 3: "SIGQUIT"
    case 4: "SIGILL"
    case 6: "SIGABRT"
    case 7: "SIGBUS"
    case 8: "SIGFPE"
    case 9: "SIGKILL"
    case 11: "SIGSEGV"
    case 13: "SIGPIPE"
    case 14: "SIGALRM"
    case 15: "SIGTERM"
    case 24: "SIGXCPU"
    case 25: "SIGXFSZ"
    default: "signal \(signal)"
    }
}
