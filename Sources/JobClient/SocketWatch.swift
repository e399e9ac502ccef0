#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import JobBasics
import NIOPosix

/// A wake-up for a daemon's socket coming back after a restart or a crash: inotify on the
/// socket's directory or, while that directory does not exist, on the nearest one above it
/// that does. It watches from the moment it is made, so a change made after `init` wakes
/// ``changed(before:)`` even when it came before the call. Changes to other names in the
/// directory do not wake it.
///
/// A daemon binding its socket creates the file (`IN_CREATE`) and sets its mode once it listens
/// (`IN_ATTRIB`); one that stops removes it. A socket-activated daemon's socket stays where it
/// is, and connections to it wait in its backlog, so there is nothing to watch for.
public final class SocketWatch: Sendable {
    /// The inotify instance.
    private let inotify: Int32
    /// The entry of the watched directory on the way to the socket: the socket's own name, or
    /// the missing directory's.
    private let name: [UInt8]
    /// A pipe whose write end the waiting task's cancellation writes to, to end the wait.
    private let cancelRead: Int32
    private let cancelWrite: Int32

    /// Watches the directory of `socketPath` (or its nearest existing ancestor); `nil` when the
    /// system refuses an inotify instance or a watch.
    public init?(socketPath: String) {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { return nil }
        for end in pipeEnds {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, O_NONBLOCK)
        }
        let inotify = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard inotify >= 0 else {
            close(pipeEnds[0])
            close(pipeEnds[1])
            return nil
        }
        let mask = UInt32(IN_CREATE | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)
        var path = Array(socketPath.utf8)
        var watched = false
        var name: [UInt8] = []
        while !watched {
            let (directory, last) = Self.split(path)
            name = last
            if inotify_add_watch(inotify, String(decoding: directory, as: UTF8.self), mask) >= 0 {
                watched = true
            } else if (errno == ENOENT || errno == ENOTDIR) && directory != path && directory != [UInt8(ascii: "/")] {
                path = directory
            } else {
                break
            }
        }
        guard watched else {
            close(inotify)
            close(pipeEnds[0])
            close(pipeEnds[1])
            return nil
        }
        self.inotify = inotify
        self.name = name
        self.cancelRead = pipeEnds[0]
        self.cancelWrite = pipeEnds[1]
    }

    deinit {
        close(inotify)
        close(cancelRead)
        close(cancelWrite)
    }

    /// `path`'s directory and last component: `/run/jobq/jobq.sock` gives `/run/jobq` and
    /// `jobq.sock`; `jobq.sock` gives `.` and itself.
    static func split(_ path: [UInt8]) -> (directory: [UInt8], name: [UInt8]) {
        var path = path
        while path.count > 1, path.last == UInt8(ascii: "/") { path.removeLast() }
        guard let slash = path.lastIndex(of: UInt8(ascii: "/")) else { return (Array(".".utf8), path) }
        let name = Array(path[(slash + 1)...])
        return (slash == 0 ? [UInt8(ascii: "/")] : Array(path[..<slash]), name)
    }

    /// Waits until the watched entry changes (`true`) or `deadline` passes (`false`). Throws
    /// `CancellationError` when the calling task is cancelled meanwhile.
    public func changed(before deadline: ContinuousClock.Instant) async throws -> Bool {
        let outcome = try await withTaskCancellationHandler {
            try await NIOThreadPool.singleton.runIfActive { self.block(until: deadline) }
        } onCancel: {
            var byte: UInt8 = 1
            _ = write(cancelWrite, &byte, 1)
        }
        switch outcome {
        case .changed: return true
        case .deadline: return false
        case .cancelled: throw CancellationError()
        }
    }

    enum Outcome: Sendable {
        case changed, deadline, cancelled
    }

    /// Blocks in `poll` on the inotify instance and the cancellation pipe.
    private func block(until deadline: ContinuousClock.Instant) -> Outcome {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            if left <= .zero { return .deadline }
            // Rounded up, so that the last wait does not end just short of the deadline.
            let milliseconds = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1
            var fds = [pollfd(fd: inotify, events: Int16(POLLIN), revents: 0), pollfd(fd: cancelRead, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, Int32(clamping: milliseconds))
            if ready < 0 {
                if errno == EINTR { continue }
                return .deadline  // poll itself failed (no memory): nothing to wait with
            }
            if fds[1].revents != 0 { return .cancelled }
            guard fds[0].revents != 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
            if count > 0, Self.concerns(buffer[..<count], name: name) { return .changed }
        }
    }

    /// Whether a read of inotify events holds one about `name`, or one about the watched
    /// directory itself (removed, moved) or a lost event (queue overflow).
    static func concerns(_ events: ArraySlice<UInt8>, name: [UInt8]) -> Bool {
        let itself = UInt32(IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_Q_OVERFLOW)
        return InotifyEvents.contains(events) { mask, entry in mask & itself != 0 || entry.elementsEqual(name) }
    }
}
