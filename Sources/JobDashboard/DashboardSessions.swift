import Foundation
import JobAPI
import JobBasics
import JobModel

/// The live ``SessionBook`` behind a lock, with the clock and the tokens it needs: 256 random
/// bits each, from the system's generator (`getrandom`), in URL-safe base64.
public final class DashboardSessions: DashboardSignIn {
    private let book: Locked<SessionBook>
    private let now: @Sendable () -> Duration
    /// The dashboard's address as links name it, once it listens.
    private let base = Locked<String?>(nil)

    /// `now` reads a monotonic clock (tests pass a manual one).
    public init(linkLifetime: Duration = .seconds(60), sessionLifetime: Duration = .seconds(12 * 3600),
                now: @escaping @Sendable () -> Duration = DashboardSessions.uptime) {
        book = Locked(SessionBook(linkLifetime: linkLifetime, sessionLifetime: sessionLifetime))
        self.now = now
    }

    /// The time since an arbitrary point, from `CLOCK_MONOTONIC`.
    public static let uptime: @Sendable () -> Duration = {
        ContinuousClock.now - DashboardSessions.epoch
    }
    private static let epoch = ContinuousClock.now

    /// Where links point: `http://127.0.0.1:8377`, a proxy's `https://jobs.example.com`, or ""
    /// (the link is then a path, for a proxy jobqd was not told of).
    public func listening(at url: String) {
        base.withLock { $0 = url.hasSuffix("/") ? String(url.dropLast()) : url }
    }

    public func link(for user: PeerCredentials) throws(DashboardSignInError) -> DashboardLink {
        guard let base = base.withLock({ $0 }) else { throw .notListening }
        let token = Self.token()
        let now = now()
        let (linkLifetime, sessionLifetime) = try book.withLock { (book: inout SessionBook) throws(DashboardSignInError) in
            try book.addLink(token, for: user, now: now)
            return (book.linkLifetime, book.sessionLifetime)
        }
        return DashboardLink(url: "\(base)/sign-in?token=\(token)", expiresInSeconds: Int(linkLifetime.components.seconds),
                             sessionSeconds: Int(sessionLifetime.components.seconds))
    }

    public func signOut(uid: UInt32?) -> Int {
        book.withLock { $0.endAll(of: uid) }
    }

    /// Follows a link: the new session's token and its user, or nil when the link is unknown,
    /// used or expired.
    func redeem(_ link: String) -> (session: String, user: PeerCredentials)? {
        let session = Self.token()
        let now = now()
        return book.withLock { $0.redeem(link, session: session, now: now) }.map { (session, $0) }
    }

    /// The user signed in under `session`, while it lasts.
    func user(ofSession session: String) -> PeerCredentials? {
        let now = now()
        return book.withLock { $0.user(ofSession: session, now: now) }
    }

    /// Ends one session.
    func endSession(_ session: String) {
        book.withLock { $0.endSession(session) }
    }

    /// How long a session lasts, for the cookie's `Max-Age`.
    var sessionLifetime: Duration { book.withLock { $0.sessionLifetime } }

    /// 32 random bytes in URL-safe base64 without padding (43 characters).
    static func token() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<4).flatMap { _ in withUnsafeBytes(of: generator.next() as UInt64) { Array($0) } }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
