import Foundation
import JobModel

/// What one run asks of the ``ProcessLauncher``.
struct LaunchRequest: Sendable {
    /// The program's path (already searched for on the PATH).
    var path: String
    /// argv, `argv[0]` first, as the job gave it.
    var arguments: [String]
    /// `NAME=value` entries.
    var environment: [String]
    var workingDirectory: String
    var stdoutPath: String
    var stderrPath: String
    /// Where both streams go too, in the order they are read (`nil`: nowhere).
    var combinedPath: String?
    /// The most bytes kept of each stream.
    var outputLimit: Int
    var timeout: Duration?
    /// Between SIGTERM and SIGKILL when the process is stopped.
    var killGrace: Duration
    /// Set with setrlimit before the exec.
    var limits = ResourceLimits()
    /// Who the process runs as (nil: the daemon's user).
    var identity: JobIdentity?
    /// Where the run's kept output is copied too, stream by stream (nil: nowhere).
    var mirror: (@Sendable (OutputMirror.Stream, UnsafeRawBufferPointer) -> Void)?

    /// ``limits`` as `jobq_spawn` takes them: -1 where none, in `JOBQ_LIMIT_*` order.
    var spawnLimits: [Int64] {
        [limits.memoryBytes, limits.cpuSeconds, limits.openFiles, limits.processes, limits.fileSizeBytes].map { $0 ?? -1 }
    }
}

/// How a launched process ended.
struct LaunchReport: Sendable {
    enum End: Sendable {
        /// The run was cancelled before the process was spawned.
        case notStarted
        /// The spawn failed with this errno; `inWorkingDirectory` when the working directory
        /// was the cause (it is not a directory that can be entered).
        case spawnFailed(errno: Int32, inWorkingDirectory: Bool)
        case exited(code: Int32)
        case signaled(Int32)
    }

    var end: End
    /// The process's id (and its group's); 0 when it never started.
    var pid: pid_t = 0
    /// Whether the request's timeout stopped it.
    var timedOut = false
    /// What the process (and those it waited for) used, once reaped.
    var usage: RunUsage?
}
