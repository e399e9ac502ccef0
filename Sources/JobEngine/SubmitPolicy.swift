import Foundation
import JobRunner

/// Who may submit jobs, as `at.allow` and `at.deny` say it for `at`: with an allow list, only
/// the users it names and the members of the groups it names; else, with a deny list, everyone
/// but those; with neither, everyone who can reach the socket. Root and the daemon's own user
/// may always submit. Users are names; groups are resolved to ids when the policy is made.
public struct SubmitPolicy: Hashable, Sendable {
    /// A user's name, or a group's id (`@name` in the configuration).
    public enum Principal: Hashable, Sendable {
        case user(String)
        case group(gid_t)
    }

    /// Who may submit (nil: everyone not denied).
    public var allowed: [Principal]?
    /// Who may not (when there is no allow list).
    public var denied: [Principal]

    public init(allowed: [Principal]? = nil, denied: [Principal] = []) {
        self.allowed = allowed
        self.denied = denied
    }

    /// `alice, bob @builders`: names separated by commas or blanks, groups after `@`; throws a
    /// sentence naming a group the system does not know.
    public static func principals(_ text: String) throws(PolicyError) -> [Principal] {
        var principals: [Principal] = []
        for word in text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }) {
            if word.hasPrefix("@") {
                let name = String(word.dropFirst())
                guard let gid = JobIdentity.gid(ofGroup: name) else { throw PolicyError(description: "no group '\(name)' on this machine") }
                principals.append(.group(gid))
            } else {
                principals.append(.user(String(word)))
            }
        }
        return principals
    }

    /// Why uid `uid` (the user `identity`, nil when it has no account) may not submit, or nil
    /// when it may; `daemonUID` is the daemon's own user.
    public func refusal(uid: uid_t, identity: JobIdentity?, daemonUID: uid_t) -> String? {
        if uid == 0 || uid == daemonUID || (allowed == nil && denied.isEmpty) { return nil }
        guard let identity else { return "uid \(uid) has no account on this machine, and a submit policy is set" }
        func names(_ principal: Principal) -> Bool {
            switch principal {
            case .user(let name): name == identity.name
            case .group(let gid): identity.groups.contains(gid)
            }
        }
        if let allowed {
            return allowed.contains(where: names) ? nil : "\(identity.name) (uid \(uid)) may not submit: not allowed by allow_submit"
        }
        return denied.contains(where: names) ? "\(identity.name) (uid \(uid)) may not submit: refused by deny_submit" : nil
    }
}

/// A submit policy that names a group the system does not know.
public struct PolicyError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
}
