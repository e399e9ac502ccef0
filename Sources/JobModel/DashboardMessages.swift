/// `POST /v1/dashboard/links`: a one-time link that signs the caller in to the web dashboard.
public struct DashboardLink: Codable, Hashable, Sendable {
    /// The link to open: the dashboard's address and a single-use token. Only its path and query
    /// when the dashboard listens on a Unix socket behind a proxy whose address jobqd was not told
    /// (`web_url`).
    public var url: String
    /// Seconds until the link stops working if it is not followed.
    public var expiresInSeconds: Int
    /// Seconds a session started by the link lasts.
    public var sessionSeconds: Int

    public init(url: String, expiresInSeconds: Int, sessionSeconds: Int) {
        self.url = url
        self.expiresInSeconds = expiresInSeconds
        self.sessionSeconds = sessionSeconds
    }

    enum CodingKeys: String, CodingKey {
        case url
        case expiresInSeconds = "expires_in_seconds"
        case sessionSeconds = "session_seconds"
    }
}

/// `POST /v1/dashboard/sign-out-all`: how many dashboard sessions (and unused links) ended.
public struct DashboardSignOut: Codable, Hashable, Sendable {
    public var ended: Int

    public init(ended: Int) {
        self.ended = ended
    }
}
