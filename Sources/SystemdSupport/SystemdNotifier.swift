#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why a notification could not be sent.
public struct SystemdNotifyError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The `errno` of the failing call.
    public var errno: Int32
    /// What was being done.
    public var operation: String

    public var description: String {
        "\(operation) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// Sends sd_notify messages to systemd (or to whatever listens on `NOTIFY_SOCKET`), without
/// libsystemd: one datagram per message on an `AF_UNIX` `SOCK_DGRAM` socket, fields joined by
/// newlines. The protocol is systemd's stable interface ("reimplementable independently").
public struct SystemdNotifier: Sendable {
    /// One field of a notification.
    public enum Field: Hashable, Sendable {
        /// `READY=1`: start-up is complete and the service accepts work.
        case ready
        /// `STOPPING=1`: shutdown has begun.
        case stopping
        /// `WATCHDOG=1`: the service is alive and well.
        case watchdog
        /// `STATUS=…`: one line for `systemctl status`.
        case status(String)
        /// `MAINPID=…`
        case mainPID(Int32)
        /// `EXTEND_TIMEOUT_USEC=…`: start-up or shutdown needs this much longer.
        case extendTimeout(Duration)

        var text: String {
            switch self {
            case .ready: "READY=1"
            case .stopping: "STOPPING=1"
            case .watchdog: "WATCHDOG=1"
            case .status(let line): "STATUS=" + line.split(whereSeparator: \.isNewline).joined(separator: " ")
            case .mainPID(let pid): "MAINPID=\(pid)"
            case .extendTimeout(let duration):
                "EXTEND_TIMEOUT_USEC=\(duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000)"
            }
        }
    }

    /// The socket's address as given (`/path` or `@abstract`); `nil` when not under systemd.
    public let address: String?

    public init(address: String?) {
        self.address = address
    }

    /// Whether there is anybody to notify.
    public var isEnabled: Bool { address != nil }

    /// Sends the fields as one datagram, without waiting: when the receiver's queue is full the
    /// datagram is refused (`EAGAIN`), never waited for. Does nothing (and returns `false`)
    /// when there is no notify socket.
    @discardableResult
    public func notify(_ fields: [Field]) throws(SystemdNotifyError) -> Bool {
        guard let address, !fields.isEmpty else { return false }
        let message = fields.map(\.text).joined(separator: "\n") + "\n"

        var path = Array(address.utf8)
        let abstract = path.first == UInt8(ascii: "@")
        if abstract { path[0] = 0 }
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: socketAddress.sun_path)
        guard path.count + (abstract ? 0 : 1) <= capacity else {
            throw SystemdNotifyError(errno: ENAMETOOLONG, operation: "NOTIFY_SOCKET \(address)")
        }
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { buffer in
            buffer.copyBytes(from: path)
        }
        // Abstract names have an exact length and no terminating NUL; paths end with one.
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (abstract ? 0 : 1))

        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemdNotifyError(errno: Glibc.errno, operation: "socket") }
        defer { close(fd) }
        let sent = message.utf8CString.withUnsafeBufferPointer { bytes in
            withUnsafePointer(to: &socketAddress) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                    // Never blocks: a receiver that stopped reading (its queue holds 10
                    // datagrams) gets EAGAIN instead of a daemon stuck in sendto, unable to stop
                    // (the reliability crash loop found that).
                    sendto(fd, bytes.baseAddress, bytes.count - 1, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT), generic, length)
                }
            }
        }
        guard sent >= 0 else { throw SystemdNotifyError(errno: Glibc.errno, operation: "sendto \(address)") }
        return true
    }
}
