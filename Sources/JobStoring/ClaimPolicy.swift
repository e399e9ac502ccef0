/// How a claim picks among a queue's ready jobs: in what order across submitters, and whether a
/// submitter's running jobs are capped.
public struct ClaimPolicy: Hashable, Sendable {
    /// The order across submitters within one priority.
    public enum Fairness: String, Hashable, Sendable, CaseIterable {
        /// Round-robin: each submitter's next job in turn, the one served longest ago first, so
        /// that one user's thousands of jobs do not hold back another's one.
        case roundRobin = "round_robin"
        /// Strict FIFO: earliest `run_at`, then lowest id, whoever submitted it.
        case fifo
    }

    public var fairness: Fairness
    /// At most this many of one submitter's jobs run at once in the queue (`nil`: no cap).
    public var maxRunningPerUser: Int?

    public init(fairness: Fairness = .roundRobin, maxRunningPerUser: Int? = nil) {
        self.fairness = fairness
        self.maxRunningPerUser = maxRunningPerUser
    }

    /// Strict FIFO without a cap: the claim walks one index, as it did before fair share.
    public static let fifo = ClaimPolicy(fairness: .fifo)
}
