import JobModel

/// What the socket API asks of the web dashboard: sign-in links for the caller (the kernel says
/// who that is), and the end of sessions. The dashboard module provides it; jobqd passes it in
/// when the dashboard is on.
public protocol DashboardSignIn: Sendable {
    /// A one-time link that signs `user` in, or why none can be made now.
    func link(for user: PeerCredentials) throws(DashboardSignInError) -> DashboardLink
    /// Ends the sessions and unused links of `uid`, or everyone's when `uid` is nil; returns how
    /// many ended.
    func signOut(uid: UInt32?) -> Int
}

/// Why no sign-in link was made.
public enum DashboardSignInError: Error, Hashable, Sendable {
    /// Too many links wait to be followed (each expires within a minute or so).
    case tooManyLinks(Int)
    /// The dashboard's listener is not up yet (jobqd is starting).
    case notListening
}
