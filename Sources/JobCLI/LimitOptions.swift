import ArgumentParser
import JobModel

/// `jobq submit`'s resource limits for the job's command (docs/operations.md, "Limits").
struct LimitOptions: ParsableArguments {
    @Option(name: .customLong("max-memory"), help: ArgumentHelp("The command's virtual memory, as 512M or 2G (RLIMIT_AS: allocations beyond it fail).", valueName: "size"))
    var memory: String?
    @Option(name: .customLong("max-cpu"), help: ArgumentHelp("The command's CPU time, as 90s or 10m (RLIMIT_CPU: SIGXCPU at the limit, SIGKILL 5 s of CPU later).", valueName: "duration"))
    var cpu: String?
    @Option(name: .customLong("max-files"), help: ArgumentHelp("Open files at once (RLIMIT_NOFILE).", valueName: "n"))
    var files: Int64?
    @Option(name: .customLong("max-procs"), help: ArgumentHelp("Processes and threads of the job's user (RLIMIT_NPROC; not enforced for root).", valueName: "n"))
    var processes: Int64?
    @Option(name: .customLong("max-file-size"), help: ArgumentHelp("The largest file it may write, as 100M (RLIMIT_FSIZE: SIGXFSZ beyond).", valueName: "size"))
    var fileSize: String?

    /// The limits given, each checked (a usage error names its option).
    func limits() throws -> ResourceLimits {
        func bytes(_ text: String?, _ option: String) throws -> Int64? {
            guard let text else { return nil }
            guard let value = ResourceLimits.parseBytes(text) else {
                throw ValidationError("\(option): '\(text)' is not a size (a number of bytes, or with K, M, G or T)")
            }
            return value
        }
        func count(_ value: Int64?, _ option: String) throws -> Int64? {
            if let value, value < 1 { throw ValidationError("\(option): must be 1 or more") }
            return value
        }
        var cpuSeconds: Int64?
        if let cpu {
            guard let value = ResourceLimits.parseSeconds(cpu) else {
                throw ValidationError("--max-cpu: '\(cpu)' is not a CPU time (seconds, or with s, m or h; at most a year)")
            }
            cpuSeconds = value
        }
        return ResourceLimits(memoryBytes: try bytes(memory, "--max-memory"), cpuSeconds: cpuSeconds,
                              openFiles: try count(files, "--max-files"), processes: try count(processes, "--max-procs"),
                              fileSizeBytes: try bytes(fileSize, "--max-file-size"))
    }
}
