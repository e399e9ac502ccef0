#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What `jobq` says when it cannot connect to the daemon's socket: one clause per errno, with
/// what to do about it.
public enum SocketErrors {
    public static func reason(errno code: Int32) -> String {
        switch code {
        case ENOENT: "no such socket (is jobqd running? start it with `jobqd`, or `systemctl start jobqd`)"
        case ECONNREFUSED: "connection refused (the socket is left over from a daemon that stopped; start jobqd again)"
        case EACCES: "permission denied (the socket is for the daemon's user and its group; ask to be added to the group)"
        default: String(cString: strerror(code))
        }
    }

    /// The whole message: `cannot reach jobqd at <socket>: <reason>`.
    public static func unreachable(socket: String, reason: String) -> String {
        "cannot reach jobqd at \(socket): \(reason)"
    }
}
