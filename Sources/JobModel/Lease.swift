/// A consumer's hold on a payload job: who holds it, until when, and the token that names
/// the job and the run it was leased for.
public struct Lease: Hashable, Sendable, Codable {
    /// Names this lease in heartbeat, complete, fail and release.
    public var token: LeaseToken
    /// The name the consumer gave when it leased the job.
    public var consumer: String
    /// When the lease ends unless a heartbeat extends it: the attempt then counts as failed.
    public var expiresAt: Timestamp

    public init(token: LeaseToken, consumer: String, expiresAt: Timestamp) {
        self.token = token
        self.consumer = consumer
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case token, consumer
        case expiresAt = "expires_at"
    }
}

/// `ID.RUN`: the job and the run (every start counted, never reset) a lease was granted for. A
/// job leased again gets a new run, so a token from an earlier lease can never act on it: the
/// fencing token of docs/consumers.md.
public struct LeaseToken: Hashable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    public var job: JobID
    public var run: Int

    public init(job: JobID, run: Int) {
        self.job = job
        self.run = run
    }

    /// Parses `ID.RUN` (both positive whole numbers).
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let id = JobID(String(parts[0])), let run = Int(parts[1]), run > 0,
              parts[1].allSatisfy(\.isASCII) else { return nil }
        self.init(job: id, run: run)
    }

    public var description: String { "\(job).\(run)" }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let token = LeaseToken(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "'\(text)' is not a lease token (JOB.RUN)"))
        }
        self = token
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
