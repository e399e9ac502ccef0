import Foundation
import JobBasics

/// ``JobIdentity/lookup(uid:)`` results kept for a few seconds per uid. Hand-written (a dictionary
/// under a lock) because a lookup through the name service is some 50 system calls (it reads
/// `/etc/passwd` and `/etc/group`, and asks systemd's user database), too many for every job.
/// A user removed is seen once the entry is older than ``lifetime``; a uid without a user is
/// not kept.
public final class IdentityCache: Sendable {
    /// How long a lookup stands.
    public static let lifetime: Duration = .seconds(5)

    private struct Entry {
        var identity: JobIdentity
        var until: ContinuousClock.Instant
    }

    private let entries = Locked<[uid_t: Entry]>([:])
    private let lookup: @Sendable (uid_t) -> JobIdentity?
    private let now: @Sendable () -> ContinuousClock.Instant

    public init(lookup: @escaping @Sendable (uid_t) -> JobIdentity? = JobIdentity.lookup(uid:),
         now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.lookup = lookup
        self.now = now
    }

    /// The user of `uid`: the kept lookup while it stands, else a new one.
    public func identity(of uid: uid_t) -> JobIdentity? {
        let instant = now()
        if let entry = entries.withLock({ $0[uid] }), entry.until > instant { return entry.identity }
        guard let identity = lookup(uid) else {
            entries.withLock { $0[uid] = nil }
            return nil
        }
        entries.withLock { $0[uid] = Entry(identity: identity, until: instant + Self.lifetime) }
        return identity
    }
}
