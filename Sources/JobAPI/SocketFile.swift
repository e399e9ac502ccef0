import Foundation

/// The daemon's socket path, made ready for binding.
public enum SocketFile {
    /// Why the socket cannot be used, in one sentence.
    public struct Problem: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Creates the parent directory (mode 0750) when missing, and deals with a file already at
    /// `path`: a socket nobody answers on is a leftover of a daemon that died, and is removed;
    /// a socket a daemon answers on, or anything that is not a socket, is refused.
    public static func prepare(_ path: String) throws(Problem) {
        let directory = (path as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
            } catch {
                throw Problem(description: "cannot create the socket's directory \(directory): \(error.localizedDescription)")
            }
        }
        guard path.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw Problem(description: "the socket path \(path) is too long for a Unix socket (at most 107 bytes)")
        }
        var info = stat()
        guard lstat(path, &info) == 0 else { return }  // nothing there
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw Problem(description: "\(path) exists and is not a socket; move it away or choose another --socket")
        }
        if answers(path) {
            throw Problem(description: "a daemon already answers on \(path); stop it first, or choose another --socket")
        }
        unlink(path)
    }

    /// Whether something accepts connections on the socket at `path`.
    static func answers(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) == 0 }
        }
    }

    /// The group id of a group name or number.
    public static func groupID(_ name: String) throws(Problem) -> gid_t {
        if let number = gid_t(name) { return number }
        guard let group = getgrnam(name) else {
            throw Problem(description: "socket_group: no group named '\(name)' on this machine")
        }
        return group.pointee.gr_gid
    }

    /// Mode 0660, and the group when one is given: the daemon's user and the group's members
    /// may connect, nobody else.
    public static func setOwnership(_ path: String, group: gid_t?) throws(Problem) {
        guard chmod(path, 0o660) == 0 else {
            throw Problem(description: "cannot set the mode of \(path): \(String(cString: strerror(errno)))")
        }
        if let group, chown(path, uid_t.max, group) != 0 {
            throw Problem(description: "cannot give \(path) to group \(group): \(String(cString: strerror(errno)))")
        }
    }

    /// Raises the soft limit on open files to the hard limit: each connection holds one.
    public static func raiseDescriptorLimit() {
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
    }
}
