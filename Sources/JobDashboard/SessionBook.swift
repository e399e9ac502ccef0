import JobAPI

/// The dashboard's sign-in links and sessions as decisions on values: which token stands for
/// which user, until when. Times are a monotonic clock's readings, so that setting the wall
/// clock back cannot lengthen a session; ``DashboardSessions`` supplies them and the tokens.
struct SessionBook: Sendable {
    struct Grant: Sendable {
        var user: PeerCredentials
        var until: Duration
    }

    /// How long a link works if it is not followed.
    let linkLifetime: Duration
    /// How long a session lasts from its sign-in.
    let sessionLifetime: Duration
    /// The most links that may wait to be followed, and the most sessions: enough for any team,
    /// and a bound on what a local user minting links in a loop can make jobqd hold.
    let maxLinks: Int
    let maxSessions: Int

    private(set) var links: [String: Grant] = [:]
    private(set) var sessions: [String: Grant] = [:]

    init(linkLifetime: Duration = .seconds(60), sessionLifetime: Duration = .seconds(12 * 3600),
         maxLinks: Int = 1000, maxSessions: Int = 10_000) {
        self.linkLifetime = linkLifetime
        self.sessionLifetime = sessionLifetime
        self.maxLinks = maxLinks
        self.maxSessions = maxSessions
    }

    /// Records a link for `user`; refused when too many wait to be followed.
    mutating func addLink(_ token: String, for user: PeerCredentials, now: Duration) throws(DashboardSignInError) {
        forgetExpired(now: now)
        guard links.count < maxLinks else { throw .tooManyLinks(links.count) }
        links[token] = Grant(user: user, until: now + linkLifetime)
    }

    /// Follows a link: it is used up whatever happens, and a session for its user starts under
    /// `session` when the link was still good (and there is room).
    mutating func redeem(_ token: String, session: String, now: Duration) -> PeerCredentials? {
        forgetExpired(now: now)
        guard let grant = links.removeValue(forKey: token), sessions.count < maxSessions else { return nil }
        sessions[session] = Grant(user: grant.user, until: now + sessionLifetime)
        return grant.user
    }

    /// The user of a live session.
    func user(ofSession token: String, now: Duration) -> PeerCredentials? {
        guard let grant = sessions[token], grant.until > now else { return nil }
        return grant.user
    }

    /// Ends one session (signing out in the page).
    mutating func endSession(_ token: String) {
        sessions[token] = nil
    }

    /// Ends the sessions and unused links of `uid`, or all of them; returns how many.
    mutating func endAll(of uid: UInt32?) -> Int {
        let before = links.count + sessions.count
        if let uid {
            links = links.filter { $0.value.user.uid != uid }
            sessions = sessions.filter { $0.value.user.uid != uid }
        } else {
            links.removeAll()
            sessions.removeAll()
        }
        return before - links.count - sessions.count
    }

    private mutating func forgetExpired(now: Duration) {
        links = links.filter { $0.value.until > now }
        sessions = sessions.filter { $0.value.until > now }
    }
}
