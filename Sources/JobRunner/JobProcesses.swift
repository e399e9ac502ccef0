import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Finding and stopping the processes a job left behind.
///
/// Every job starts with `JOBQ_STATE_DIR` (its daemon's state directory) and `JOBQ_JOB_ID` in
/// its environment, and its descendants inherit them, also those that left the job's process
/// group with `setsid` (a daemon it forked). The daemon uses that mark twice:
/// - when a job's leader exits, whatever still carries the mark is killed, so that no process
///   outlives its job's teardown (the job's process group is killed first, which is most cases);
/// - at start-up, the processes of the jobs a killed daemon left running are killed before
///   those jobs run again, so that two copies of one job never run at once.
/// A process that clears its environment and leaves the group escapes both; under systemd the
/// service's cgroup still ends it when the service stops.
enum JobProcesses {
    /// The ids of processes (other than this one) whose environment holds
    /// `JOBQ_STATE_DIR=stateDirectory` and `JOBQ_JOB_ID=` one of `jobs`.
    ///
    /// The candidates are the processes of this daemon's cgroup (under systemd: the daemon and
    /// its jobs, a short list), or every process when the cgroup cannot be read. A process whose
    /// environment cannot be read (another user's, when not root) is not ours.
    ///
    /// `since`: the job's leader, when the search is for one job's processes. Its descendants
    /// were created after it, so their pids are above it (pids grow until they wrap past
    /// pid_max: when the last pid handed out is below the leader's, everything is searched).
    /// That keeps the search to the few processes started since the job, not the whole machine:
    /// when no more than ``probeLimit`` pids were handed out since the leader, each is looked up
    /// in /proc directly instead of listing /proc (which costs the kernel a lookup of every
    /// process of the machine).
    ///
    /// `skipping`: pids known not to be one of the jobs' processes, not read: the leaders of
    /// other jobs that the launcher has not reaped (an unreaped pid cannot be handed to anyone
    /// else). With several jobs at once, they are most of the pids started since a leader.
    static func find(jobs: Set<Int64>, stateDirectory: String, since leader: pid_t? = nil,
                     skipping: Set<pid_t> = []) -> [pid_t] {
        guard !jobs.isEmpty else { return [] }
        var floor: pid_t = 0
        var last: pid_t?
        if let leader, let lastPID = lastPID(), lastPID >= leader {
            floor = leader
            last = lastPID
        }
        let mark = Array("JOBQ_STATE_DIR=\(stateDirectory)".utf8)
        let idPrefix = Array("JOBQ_JOB_ID=".utf8)
        let me = getpid()
        var found: [pid_t] = []
        for pid in candidates(above: floor, through: last) where pid != me && !skipping.contains(pid) {
            guard let environment = readEnvironment(pid) else { continue }
            var marked = false
            var job: Int64?
            for entry in environment.split(separator: 0, omittingEmptySubsequences: true) {
                if entry.elementsEqual(mark) {
                    marked = true
                } else if entry.starts(with: idPrefix) {
                    job = Int64(String(decoding: entry.dropFirst(idPrefix.count), as: UTF8.self))
                }
            }
            // A pid probed directly may be a thread's id, whose /proc entry shows its process's
            // environment: only the process itself (its thread group's leader) counts.
            if marked, let job, jobs.contains(job), isProcess(pid) { found.append(pid) }
        }
        return found
    }

    /// SIGKILLs the processes of `jobs` (see ``find(jobs:stateDirectory:)``); returns how many.
    @discardableResult
    static func kill(jobs: Set<Int64>, stateDirectory: String, since leader: pid_t? = nil,
                     skipping: Set<pid_t> = []) -> Int {
        let pids = find(jobs: jobs, stateDirectory: stateDirectory, since: leader, skipping: skipping)
        for pid in pids { _ = Glibc.kill(pid, SIGKILL) }
        return pids.count
    }

    /// The most pids probed one by one (see ``find(jobs:stateDirectory:since:)``); a longer
    /// range lists /proc instead.
    static let probeLimit: pid_t = 256

    /// The pids above `floor` to search: this process's cgroup v2 member list when it is
    /// readable; else, when `last` (the last pid handed out) is at most ``probeLimit`` above
    /// `floor`, every pid of that range (whether it exists or not: looking one up is cheap);
    /// else every pid in /proc.
    static func candidates(above floor: pid_t, through last: pid_t?) -> [pid_t] {
        if let cgroupProcs, let procs = readText(cgroupProcs) {
            let pids = procs.split(separator: "\n").compactMap { pid_t($0) }
            if !pids.isEmpty { return pids.filter { $0 > floor } }
        }
        if let last, last - floor <= probeLimit {
            return Array(stride(from: floor + 1, through: last, by: 1))
        }
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { pid_t($0) }.filter { $0 > floor }
    }

    /// Whether `pid` is a process (the leader of its thread group), not another thread's id.
    private static func isProcess(_ pid: pid_t) -> Bool {
        guard let status = readText("/proc/\(pid)/status"),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Tgid:") }) else { return false }
        return pid_t(line.dropFirst("Tgid:".count).trimmingCharacters(in: .whitespaces)) == pid
    }

    /// The `cgroup.procs` file of this process's cgroup v2, found once (the daemon does not
    /// move); nil in the root cgroup, whose list is every process (as good as /proc, and a
    /// container's root may not list its processes at all).
    private static let cgroupProcs: String? = {
        guard let cgroup = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8),
              let line = cgroup.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) else { return nil }
        let path = line.dropFirst(3)
        return path == "/" ? nil : "/sys/fs/cgroup\(path)/cgroup.procs"
    }()

    /// The pid the kernel handed out last (the last field of /proc/loadavg).
    static func lastPID() -> pid_t? {
        guard let text = readText("/proc/loadavg"),
              let last = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).last else { return nil }
        return pid_t(last)
    }

    /// `/proc/PID/environ`, or nil when it cannot be read.
    private static func readEnvironment(_ pid: pid_t) -> [UInt8]? {
        readFile("/proc/\(pid)/environ")
    }

    /// ``readFile(_:)`` as UTF-8 text.
    private static func readText(_ path: String) -> String? {
        readFile(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A small file's bytes (read to its end, as /proc files must be: their size says 0), at
    /// most about 1 MiB; nil when it cannot be opened. Once per job for /proc/loadavg and the
    /// cgroup's list, so plain reads instead of Foundation's file machinery.
    private static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
            if bytes.count > 1 << 20 { break }
        }
        return bytes
    }
}
