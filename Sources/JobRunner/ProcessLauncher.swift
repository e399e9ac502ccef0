import CJobSpawn
import Foundation
import JobBasics
import JobModel
import Synchronization
import SystemPackage

/// Starts and watches job processes, all of them from one thread of its own.
///
/// swift-subprocess, which jobq used before, forks the whole daemon for each spawn (copying its
/// page tables), hands the spawn to a thread of its own, the exit to a monitor thread and each
/// output stream to an I/O thread, each with its own wake-ups: about 0.37 ms of the daemon's
/// CPU per `true` job (`runner-bench`, 2026-11-28), more than the child's own start. Here one
/// thread does all of it:
/// - the spawn is a vfork-style clone that shares the daemon's memory until the child execs
///   (`jobq_spawn`, as glibc's `posix_spawn` but with the child's stack on this thread's own):
///   a new session, its working directory, stdin from /dev/null,
///   stdout and stderr on pipes, no other descriptor, default signal dispositions;
/// - a pidfd per process, the read ends of both pipes and an eventfd for requests wait in one
///   epoll set; output is copied into the job's files as it arrives;
/// - when the leader exits, its process group is SIGKILLed while the zombie still holds the
///   group's id (no process outlives its job), the leader is reaped, what its pipes still hold
///   is read, and the run's end handler is called, on this thread: one wake-up in, none out;
/// - timeouts and stops: SIGTERM to the group, SIGKILL to the group after the grace period.
///
/// Requires Linux 5.4 or later (pidfds that `waitid` accepts).
///
/// The daemon makes one and hands it to its ``ProcessJobExecutor``; its thread lives as long as
/// the process.
public final class ProcessLauncher: Sendable {
    private enum Command: Sendable {
        case launch(token: UInt64, LaunchRequest, onEnd: @Sendable (LaunchReport) -> Void)
        case stop(token: UInt64)
    }

    /// A run's progress, for its cancellation handler: 0 not yet posted, 1 launch posted,
    /// 2 cancelled. Changed only under the inbox's lock, so that a stop is always queued after
    /// its launch.
    private final class Phase: Sendable {
        let value = Atomic<Int>(0)
    }

    private let epollDescriptor: Int32
    private let wakeDescriptor: Int32
    /// The errno that kept the launcher from starting (no epoll or eventfd): every launch fails
    /// with it.
    private let startError: Int32?
    private let inbox = Locked<[Command]>([])
    private let tokens = Atomic<UInt64>(0)
    /// The leaders spawned and not reaped yet: their pids cannot belong to any other process.
    private let unreaped = Locked<Set<pid_t>>([])

    /// The job leaders that are alive or not reaped yet (see ``JobProcesses/find(jobs:stateDirectory:since:skipping:)``).
    var unreapedLeaders: Set<pid_t> { unreaped.withLock { $0 } }

    public init() {
        let epoll = jobq_epoll_create()
        let epollError = epoll < 0 ? errno : 0
        let wake = jobq_eventfd()
        let wakeError = wake < 0 ? errno : 0
        epollDescriptor = epoll
        wakeDescriptor = wake
        if epoll < 0 || wake < 0 || jobq_epoll_add(epoll, wake) != 0 {
            startError = epollError != 0 ? epollError : (wakeError != 0 ? wakeError : errno)
            return
        }
        startError = nil
        let thread = Thread { [self] in
            jobq_name_thread("jobq-launcher")
            // Its children's SIGCHLD is then dropped where it is raised (see the C function).
            let unblocked = jobq_unblock_sigchld()
            precondition(unblocked == 0, "pthread_sigmask cannot fail with SIG_UNBLOCK and a valid set")
            self.serve()
        }
        thread.start()
    }

    /// Starts one process and calls `onEnd` once, on the launcher's thread, when it has ended
    /// and been reaped (or at once, on the caller's thread, when the launcher cannot start any).
    /// A request on `stop` stops it: SIGTERM to its process group, SIGKILL to the group after
    /// the request's grace period.
    func start(_ request: LaunchRequest, stop: RunStop, onEnd: @escaping @Sendable (LaunchReport) -> Void) {
        if let startError {
            return onEnd(LaunchReport(end: .spawnFailed(errno: startError, inWorkingDirectory: false)))
        }
        let token = tokens.wrappingAdd(1, ordering: .relaxed).newValue
        let phase = Phase()
        // Before the launch is posted: nothing yet (and no launch after this); after it, a stop
        // queued behind it.
        stop.onRequest { [self] in
            _ = post { inbox in
                guard phase.value.exchange(2, ordering: .relaxed) == 1 else { return false }
                inbox.append(.stop(token: token))
                return true
            }
        }
        let ended: @Sendable (LaunchReport) -> Void = { report in
            stop.clearHandler()
            onEnd(report)
        }
        let posted = post { inbox in
            guard phase.value.compareExchange(expected: 0, desired: 1, ordering: .relaxed).exchanged else { return false }
            inbox.append(.launch(token: token, request, onEnd: ended))
            return true
        }
        if !posted { ended(LaunchReport(end: .notStarted)) }
    }

    /// Adds to the inbox under its lock and wakes the thread when something was added.
    private func post(_ add: (inout [Command]) -> Bool) -> Bool {
        let added = inbox.withLock { commands in add(&commands) }
        if added {
            var one: UInt64 = 1
            _ = write(wakeDescriptor, &one, MemoryLayout<UInt64>.size)
        }
        return added
    }

    // MARK: The launcher's thread

    /// The thread's loop. Everything below runs only here.
    private func serve() {
        var watched = WatchRegistry<WatchedProcess>()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        var ready = [Int32](repeating: 0, count: 64)
        while true {
            let timeout = Self.millisecondsToNextDeadline(watched.entries)
            let count = ready.withUnsafeMutableBufferPointer { jobq_epoll_wait(epollDescriptor, $0.baseAddress, 64, timeout) }
            if count < 0 {
                precondition(errno == EINTR, "epoll_wait failed: \(Errno(rawValue: errno))")
                continue
            }
            var commandsWaiting = false
            // Descriptors first, requests last: a descriptor closed in this round is no longer in
            // the registry, and no new one is registered until every event of the round is
            // handled, so a stale event never reaches a process that reuses its number.
            for index in 0..<Int(count) {
                let descriptor = ready[index]
                if descriptor == wakeDescriptor {
                    commandsWaiting = true
                } else if let process = watched[descriptor] {
                    if descriptor == process.pidfd {
                        if finish(process, buffer: buffer) { watched.forget(process, token: process.token, descriptors: process.descriptors) }
                    } else {
                        process.read(descriptor, into: buffer, reads: 4, drain: false, epoll: epollDescriptor) { watched.closed($0) }
                    }
                }
            }
            let now = Self.monotonicNanoseconds()
            for process in watched.entries { process.passDeadlines(now: now) }
            guard commandsWaiting else { continue }
            var value: UInt64 = 0
            _ = read(wakeDescriptor, &value, MemoryLayout<UInt64>.size)
            let commands = inbox.withLock { commands in
                let taken = commands
                commands.removeAll(keepingCapacity: true)
                return taken
            }
            for command in commands {
                switch command {
                case .launch(let token, let request, let onEnd):
                    switch launch(request, token: token, onEnd: onEnd) {
                    case .watching(let process):
                        watched.add(process, token: token, descriptors: process.descriptors)
                    case .failed(let report):
                        onEnd(report)
                    }
                case .stop(let token):
                    watched[token: token]?.stop(now: Self.monotonicNanoseconds())
                }
            }
        }
    }

    /// Spawns the request's process and registers it, or says why it could not start.
    private func launch(_ request: LaunchRequest, token: UInt64,
                        onEnd: @escaping @Sendable (LaunchReport) -> Void) -> Launched {
        var stdoutPipe: [Int32] = [-1, -1]
        var stderrPipe: [Int32] = [-1, -1]
        func failed(_ code: Int32, inWorkingDirectory: Bool = false) -> Launched {
            for descriptor in stdoutPipe + stderrPipe where descriptor >= 0 { close(descriptor) }
            return .failed(LaunchReport(end: .spawnFailed(errno: code, inWorkingDirectory: inWorkingDirectory)))
        }
        guard jobq_output_pipe(&stdoutPipe) == 0 else { return failed(errno) }
        guard jobq_output_pipe(&stderrPipe) == 0 else { return failed(errno) }
        var pid: pid_t = 0
        let spawned = withCStrings(request.arguments) { argv in
            withCStrings(request.environment) { envp in
                request.spawnLimits.withUnsafeBufferPointer { limits in
                    let groups = request.identity?.groups ?? []
                    return groups.withUnsafeBufferPointer { groups in
                        guard let user = request.identity else {
                            return jobq_spawn(&pid, request.path, argv, envp, request.workingDirectory, stdoutPipe[1], stderrPipe[1],
                                              limits.baseAddress, nil)
                        }
                        var identity = jobq_identity(uid: user.uid, gid: user.gid, group_count: groups.count, groups: groups.baseAddress)
                        return jobq_spawn(&pid, request.path, argv, envp, request.workingDirectory, stdoutPipe[1], stderrPipe[1],
                                          limits.baseAddress, &identity)
                    }
                }
            }
        }
        close(stdoutPipe[1])
        close(stderrPipe[1])
        stdoutPipe[1] = -1
        stderrPipe[1] = -1
        if spawned != 0 {
            // The child says when entering the directory failed (as the job's user, whose rights
            // may differ from the daemon's); posix_spawn's (ThreadSanitizer builds) does not.
            let inWorkingDirectory = spawned & JOBQ_SPAWN_IN_CWD != 0 || !Self.canEnter(request.workingDirectory)
            return failed(spawned & ~JOBQ_SPAWN_IN_CWD, inWorkingDirectory: inWorkingDirectory)
        }
        unreaped.withLock { _ = $0.insert(pid) }
        let pidfd = jobq_pidfd_open(pid)
        if pidfd < 0 {
            let code = errno
            killAndReap(pid)
            return failed(code)
        }
        for descriptor in [pidfd, stdoutPipe[0], stderrPipe[0]] where jobq_epoll_add(epollDescriptor, descriptor) != 0 {
            let code = errno
            for registered in [pidfd, stdoutPipe[0], stderrPipe[0]] { _ = jobq_epoll_remove(epollDescriptor, registered) }
            killAndReap(pid)
            close(pidfd)
            return failed(code)
        }
        let combined = request.combinedPath.map { OutputSink(path: $0, limit: min(request.outputLimit, Int.max / 2) * 2) }
        let process = WatchedProcess(
            token: token, pid: pid, pidfd: pidfd, onEnd: onEnd,
            streams: [
                OutputStream(descriptor: stdoutPipe[0], sink: OutputSink(
                    path: request.stdoutPath, limit: request.outputLimit, mirror: request.mirror.map { mirror in { mirror(.stdout, $0) } }),
                    combined: combined),
                OutputStream(descriptor: stderrPipe[0], sink: OutputSink(
                    path: request.stderrPath, limit: request.outputLimit, mirror: request.mirror.map { mirror in { mirror(.stderr, $0) } }),
                    combined: combined),
            ],
            grace: request.killGrace)
        if let timeout = request.timeout {
            process.timeoutDeadline = Self.monotonicNanoseconds().saturatingAdd(Self.nanoseconds(timeout))
        }
        return .watching(process)
    }

    /// Ends a process whose pidfd became readable: SIGKILL to its group (the zombie leader still
    /// holds the group's id), reap it, read what its pipes hold, close everything, resume its
    /// run. False when it had not exited after all.
    private func finish(_ process: WatchedProcess, buffer: UnsafeMutableRawBufferPointer) -> Bool {
        _ = kill(-process.pid, SIGKILL)
        var exited: Int32 = 0
        var value: Int32 = 0
        var used = jobq_usage()
        let reaped = jobq_pidfd_reap(process.pidfd, &exited, &value, &used)
        // -1 (ECHILD) would mean that something else in the daemon reaped a job's process: the
        // status is gone, and a readable pidfd that can never be reaped would spin this thread.
        // Nothing in jobqd waits for children but this thread, so it is a bug to stop at.
        precondition(reaped >= 0, "waitid on the pidfd of job process \(process.pid) failed: \(Errno(rawValue: errno))")
        guard reaped == 1 else { return false }
        unreaped.withLock { _ = $0.remove(process.pid) }
        for stream in process.streams where stream.isOpen {
            // What the leader wrote is at most a pipe's capacity (1 MiB at the most, with
            // F_SETPIPE_SZ); a process outside the group that still writes is not waited for.
            process.read(stream.descriptor, into: buffer, reads: 16, drain: true, epoll: epollDescriptor) { _ in }
            stream.close(epoll: epollDescriptor)
        }
        for stream in process.streams { stream.sink.finish() }
        process.streams.first?.combined?.finish()
        _ = jobq_epoll_remove(epollDescriptor, process.pidfd)
        close(process.pidfd)
        let end: LaunchReport.End = exited != 0 ? .exited(code: value) : .signaled(value)
        let usage = RunUsage(userCPU: .microseconds(used.user_us), systemCPU: .microseconds(used.system_us),
                             maxResidentBytes: Int64(used.max_rss_kib) * 1024)
        process.onEnd(LaunchReport(end: end, pid: process.pid, timedOut: process.timedOut, usage: usage))
        return true
    }

    /// Stops a process that was spawned but cannot be watched: SIGKILL to its group, then wait
    /// for it (at once: nothing survives SIGKILL).
    private func killAndReap(_ pid: pid_t) {
        _ = kill(-pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        unreaped.withLock { _ = $0.remove(pid) }
    }

    /// Whether `path` is a directory this process may enter (checked after a failed spawn, to
    /// tell a bad working directory from a bad program).
    private static func canEnter(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR && access(path, X_OK) == 0
    }

    private static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
    }

    /// A duration in nanoseconds, 0 for a negative one, `UInt64.max` for one too long to count.
    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : whole.saturatingAdd(UInt64(attoseconds / 1_000_000_000))
    }

    /// epoll_wait's timeout: until the nearest deadline (rounded up), or -1 for none.
    private static func millisecondsToNextDeadline(_ processes: some Sequence<WatchedProcess>) -> Int32 {
        guard let nearest = processes.lazy.compactMap(\.nextDeadline).min() else { return -1 }
        let now = monotonicNanoseconds()
        guard nearest > now else { return 0 }
        return Int32(clamping: (nearest - now).saturatingAdd(999_999) / 1_000_000)
    }
}

/// What a launch request came to on the launcher's thread.
private enum Launched {
    case watching(WatchedProcess)
    case failed(LaunchReport)
}

/// `body` with `strings` as a NULL-terminated array of C strings.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
