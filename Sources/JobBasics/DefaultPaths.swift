#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where the daemon keeps its state and its socket when nothing says otherwise; `jobq` looks
/// for the socket in the same place.
public enum DefaultPaths {
    /// `$STATE_DIRECTORY` under systemd, `/var/lib/jobq` for root, else `$XDG_STATE_HOME/jobq`
    /// (or `~/.local/state/jobq`).
    public static func stateDirectory(environment: (String) -> String?, uid: UInt32) -> String {
        if let systemd = environment("STATE_DIRECTORY")?.split(separator: ":").first {
            return String(systemd)
        } else if uid == 0 {
            return "/var/lib/jobq"
        } else if let xdg = environment("XDG_STATE_HOME"), xdg.startsWithByte(UInt8(ascii: "/")) {
            return xdg + "/jobq"
        }
        return (environment("HOME") ?? "/tmp") + "/.local/state/jobq"
    }

    /// `$RUNTIME_DIRECTORY/jobq.sock` under systemd, `/run/jobq/jobq.sock` for root, else
    /// `$XDG_RUNTIME_DIR/jobq/jobq.sock` (or `jobq.sock` in the state directory).
    public static func socket(environment: (String) -> String?, uid: UInt32) -> String {
        if let systemd = environment("RUNTIME_DIRECTORY")?.split(separator: ":").first {
            return String(systemd) + "/jobq.sock"
        } else if uid == 0 {
            return systemSocket
        } else if let runtime = environment("XDG_RUNTIME_DIR"), runtime.startsWithByte(UInt8(ascii: "/")) {
            return runtime + "/jobq/jobq.sock"
        }
        return stateDirectory(environment: environment, uid: uid) + "/jobq.sock"
    }

    /// The same, from a dictionary of the environment.
    public static func stateDirectory(environment: [String: String], uid: UInt32) -> String {
        stateDirectory(environment: { environment[$0] }, uid: uid)
    }

    /// The same, from a dictionary of the environment.
    public static func socket(environment: [String: String], uid: UInt32) -> String {
        socket(environment: { environment[$0] }, uid: uid)
    }

    /// The system service's socket (`jobqd.socket`).
    public static let systemSocket = "/run/jobq/jobq.sock"
}

/// jobq's version: the daemon reports it in `GET /v1/status`, `jobq version` prints it beside the
/// daemon's.
public enum JobqVersion {
    public static let current = "0.2.0"
}

extension DefaultPaths {
    /// The socket `jobq` talks to without `--socket`: `$JOBQ_SOCKET`, else the daemon's default
    /// for this user, or the system daemon's when the user's does not exist and that one does.
    public static func clientSocket(environment: (String) -> String?, uid: UInt32) -> String {
        if let socket = environment("JOBQ_SOCKET"), !socket.isEmpty { return socket }
        let own = socket(environment: environment, uid: uid)
        if access(own, F_OK) != 0, access(systemSocket, F_OK) == 0 { return systemSocket }
        return own
    }

    /// The same, from a dictionary of the environment.
    public static func clientSocket(environment: [String: String], uid: UInt32) -> String {
        clientSocket(environment: { environment[$0] }, uid: uid)
    }
}
