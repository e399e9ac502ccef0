import Foundation

/// The user a job's command runs as when jobs run as their submitters: ids and groups from
/// the password and group databases at run time, and what the job's environment says of them.
public struct JobIdentity: Hashable, Sendable {
    public var uid: uid_t
    public var gid: gid_t
    /// Every group of the user, the primary one included (initgroups' list).
    public var groups: [gid_t]
    public var name: String
    public var home: String
    public var shell: String

    public init(uid: uid_t, gid: gid_t, groups: [gid_t], name: String, home: String, shell: String) {
        self.uid = uid
        self.gid = gid
        self.groups = groups
        self.name = name
        self.home = home
        self.shell = shell
    }

    /// The user with id `uid` as the system knows it now, or nil when it has no such user.
    public static func lookup(uid: uid_t) -> JobIdentity? {
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        while true {
            let status = getpwuid_r(uid, &entry, &buffer, buffer.count, &found)
            if status == ERANGE, buffer.count < 1 << 20 {
                buffer = [CChar](repeating: 0, count: buffer.count * 4)
                continue
            }
            guard status == 0, found != nil else { return nil }
            break
        }
        let name = String(cString: entry.pw_name)
        let gid = entry.pw_gid
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        while getgrouplist(entry.pw_name, gid, &groups, &count) < 0 {
            groups = [gid_t](repeating: 0, count: Int(count) + 64)
            count = Int32(groups.count)
        }
        return JobIdentity(uid: uid, gid: gid, groups: Array(groups.prefix(Int(count))), name: name,
                           home: String(cString: entry.pw_dir), shell: String(cString: entry.pw_shell))
    }

    /// The uid of the user named `name`, or nil when the system has no such user.
    public static func uid(ofUser name: String) -> uid_t? {
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwnam_r(name, &entry, &buffer, buffer.count, &found) == 0, found != nil else { return nil }
        return entry.pw_uid
    }

    /// `HOME`, `USER`, `LOGNAME` and `SHELL` as the job sees them.
    public var environment: [String: String] {
        ["HOME": home, "USER": name, "LOGNAME": name, "SHELL": shell.isEmpty ? "/bin/sh" : shell]
    }
}
