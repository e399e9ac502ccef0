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
        lookUp(passwd(), { getpwuid_r(uid, $0, $1, $2, $3) }) { entry in
            let gid = entry.pw_gid
            var count: Int32 = 64
            var groups = [gid_t](repeating: 0, count: Int(count))
            while getgrouplist(entry.pw_name, gid, &groups, &count) < 0 {
                groups = [gid_t](repeating: 0, count: Int(count) + 64)
                count = Int32(groups.count)
            }
            return JobIdentity(uid: uid, gid: gid, groups: Array(groups.prefix(Int(count))), name: String(cString: entry.pw_name),
                               home: String(cString: entry.pw_dir), shell: String(cString: entry.pw_shell))
        }
    }

    /// The uid of the user named `name`, or nil when the system has no such user.
    public static func uid(ofUser name: String) -> uid_t? {
        name.withCString { cName in lookUp(passwd(), { getpwnam_r(cName, $0, $1, $2, $3) }) { $0.pw_uid } }
    }

    /// The gid of the group named `name`, or nil when the system has no such group.
    public static func gid(ofGroup name: String) -> gid_t? {
        name.withCString { cName in lookUp(group(), { getgrnam_r(cName, $0, $1, $2, $3) }) { $0.gr_gid } }
    }

    /// Calls one of the reentrant database lookups (`getpwuid_r`, `getpwnam_r`, `getgrnam_r`)
    /// with a buffer that grows while the entry does not fit (ERANGE), up to 1 MiB, and reads
    /// the entry while its strings, which point into the buffer, are valid; nil when not found.
    private static func lookUp<Entry, Value>(
        _ empty: Entry,
        _ call: (UnsafeMutablePointer<Entry>, UnsafeMutablePointer<CChar>, Int, UnsafeMutablePointer<UnsafeMutablePointer<Entry>?>) -> Int32,
        read: (Entry) -> Value
    ) -> Value? {
        var size = 4096
        while size <= 1 << 20 {
            var entry = empty
            var found: UnsafeMutablePointer<Entry>?
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
            defer { buffer.deallocate() }
            let status = call(&entry, buffer, size, &found)
            if status == ERANGE {
                size *= 4
                continue
            }
            guard status == 0, found != nil else { return nil }
            return read(entry)
        }
        return nil
    }

    /// `HOME`, `USER`, `LOGNAME` and `SHELL` as the job sees them.
    public var environment: [String: String] {
        ["HOME": home, "USER": name, "LOGNAME": name, "SHELL": shell.isEmpty ? "/bin/sh" : shell]
    }
}
