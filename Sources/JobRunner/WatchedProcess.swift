import CJobSpawn
import Foundation

/// One process the launcher watches; lives on the launcher's thread only.
final class WatchedProcess {
    let token: UInt64
    let pid: pid_t
    let pidfd: Int32
    /// Called once, on the launcher's thread, with how the process ended.
    let onEnd: @Sendable (LaunchReport) -> Void
    let streams: [OutputStream]
    let grace: UInt64
    var timeoutDeadline: UInt64?
    var killDeadline: UInt64?
    var timedOut = false
    var descriptors: [Int32] { [pidfd] + streams.map(\.descriptor) }
    /// The sooner of the timeout and the SIGKILL after a stop, if either is set.
    var nextDeadline: UInt64? {
        switch (timeoutDeadline, killDeadline) {
        case let (timeout?, kill?): min(timeout, kill)
        case let (deadline?, nil), let (nil, deadline?): deadline
        case (nil, nil): nil
        }
    }
    /// SIGTERM went to the group (a stop or the timeout): a second reason sends nothing more.
    private var terminating = false

    init(token: UInt64, pid: pid_t, pidfd: Int32, onEnd: @escaping @Sendable (LaunchReport) -> Void,
         streams: [OutputStream], grace: Duration) {
        self.token = token
        self.pid = pid
        self.pidfd = pidfd
        self.onEnd = onEnd
        self.streams = streams
        self.grace = ProcessLauncher.nanoseconds(grace)
    }

    /// A stop: SIGTERM to the group now, SIGKILL after the grace period.
    func stop(now: UInt64) {
        guard !terminating else { return }
        terminating = true
        _ = kill(-pid, SIGTERM)
        killDeadline = now.saturatingAdd(grace)
    }

    func passDeadlines(now: UInt64) {
        if let deadline = timeoutDeadline, deadline <= now {
            timeoutDeadline = nil
            timedOut = true
            stop(now: now)
        }
        if let deadline = killDeadline, deadline <= now {
            killDeadline = nil
            _ = kill(-pid, SIGKILL)
        }
    }

    /// Reads what `descriptor` holds into its stream's file, at most `reads` buffers: epoll
    /// reports a pipe again while it holds more, so a job that writes without pause cannot hold
    /// this thread from the others. Without `drain`, a short read ends the turn (the pipe is
    /// most likely empty); with it, reading goes on until the pipe is empty. At end of file
    /// the stream is closed and `closed` is told its descriptor.
    func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, reads: Int, drain: Bool, epoll: Int32,
              closed: (Int32) -> Void) {
        guard let stream = streams.first(where: { $0.descriptor == descriptor && $0.isOpen }) else { return }
        var left = reads
        while left > 0 {
            let count = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
            if count > 0 {
                let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                stream.sink.take(bytes)
                stream.combined?.take(bytes)
                if count < buffer.count, !drain { return }
                left -= 1
                continue
            }
            if count < 0, errno == EINTR { continue }
            if count < 0, errno == EAGAIN { return }
            closed(descriptor)  // end of file, or an error: the stream is over
            stream.close(epoll: epoll)
            return
        }
    }
}

/// The read end of one of a process's output pipes.
final class OutputStream {
    let descriptor: Int32
    let sink: OutputSink
    /// Both streams' bytes, in the order they are read: shared by the process's two streams.
    let combined: OutputSink?
    private(set) var isOpen = true

    init(descriptor: Int32, sink: OutputSink, combined: OutputSink? = nil) {
        self.descriptor = descriptor
        self.sink = sink
        self.combined = combined
    }

    func close(epoll: Int32) {
        guard isOpen else { return }
        isOpen = false
        _ = jobq_epoll_remove(epoll, descriptor)
        _ = Glibc.close(descriptor)
    }
}
