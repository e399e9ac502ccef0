import CJobSpawn
import Dispatch
import Glibc

/// A command that a consumer (`jobq work`) runs in its own process for a leased job: spawned
/// with `posix_spawnp` (found on `PATH`) in a process group of its own, its stdin fed from a
/// pipe, stdout and stderr the consumer's; waited for with `waitpid` on a thread of its own. Foundation's `Process` learns
/// of an exit from SIGCHLD, which an async `main` whose threads all block signals may not take
/// for seconds (measured: exits seen only when the next signal came).
public final class ForegroundCommand: Sendable {
    /// The child's process id.
    public let pid: pid_t

    /// How the command ended.
    public enum Ending: Sendable, Hashable {
        case exited(Int32)
        case signalled(Int32)
    }

    private init(pid: pid_t) {
        self.pid = pid
    }

    /// Starts `argv` (its first word looked up on `PATH`) with `environment`, writes `input` to
    /// its stdin and closes it. Signals the consumer ignores or blocks are back to their
    /// defaults in the child. Throws the `errno` of a failed spawn.
    public static func start(argv: [String], environment: [String: String], input: [UInt8]) throws(SpawnError) -> ForegroundCommand {
        guard let program = argv.first, !program.isEmpty else { throw SpawnError(errno: EINVAL, program: "") }
        var fds: [Int32] = [-1, -1]
        guard jobq_input_pipe(&fds) == 0 else { throw SpawnError(errno: errno, program: program) }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, readEnd, STDIN_FILENO)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT] { sigaddset(&defaults, number) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &mask)
        // A process group of its own: a stop reaches the command's children too, and a Ctrl-C at
        // the terminal reaches the consumer alone, which decides.
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))
        let arguments = argv.map { strdup($0) } + [nil]
        let variables = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in arguments { free(pointer) }
            for pointer in variables { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, program, &actions, &attributes, arguments, variables)
        close(readEnd)
        guard result == 0 else {
            close(writeEnd)
            throw SpawnError(errno: result, program: program)
        }
        // On a thread of its own (a serial queue, which libdispatch gives a thread beyond the
        // pool's width): a large input blocks until the command reads it (or exits: EPIPE, as
        // the consumer ignores SIGPIPE), and must not hold a thread the task pool needs.
        DispatchQueue(label: "jobq.command.input").async {
            input.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(writeEnd, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 && errno == EINTR { continue }
                    if written <= 0 { break }
                    offset += written
                }
            }
            close(writeEnd)
        }
        return ForegroundCommand(pid: pid)
    }

    /// Asks the command and its process group to stop (SIGTERM).
    public func terminate() {
        kill(-pid, SIGTERM)
    }

    /// Returns once the command has ended (waited for on a thread of its own: a blocked
    /// `waitpid` on the global queue's few threads starves the task pool).
    public func ending() async -> Ending {
        let pid = self.pid
        return await withCheckedContinuation { continuation in
            DispatchQueue(label: "jobq.command.wait").async {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                let signal = status & 0x7f
                continuation.resume(returning: signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal))
            }
        }
    }
}

/// Why a command did not start: the `errno` of the spawn.
public struct SpawnError: Error, Sendable, CustomStringConvertible {
    public var errno: Int32
    public var program: String

    public var description: String { "cannot start \(program): \(String(cString: strerror(errno)))" }
}
