import Foundation

/// How often a failed job runs again, and how long it waits before each new attempt.
///
/// The wait before attempt `n + 1` (after `n` failed attempts) is
/// `min(maxBackoff, initialBackoff × multiplier^(n-1))`, then reduced by a random fraction of
/// up to `jitter` of itself, so that jobs that failed together do not all retry at the same
/// moment. JSON:
///
/// ```json
/// {"max_attempts": 5, "backoff_seconds": 1, "max_backoff_seconds": 300, "multiplier": 2, "jitter": 0.2}
/// ```
public struct RetryPolicy: Hashable, Sendable, Codable {
    /// Attempts in all, the first one included: 1 means never retry.
    public var maxAttempts: Int
    /// The wait before the second attempt.
    public var initialBackoff: Duration
    /// The longest wait between attempts.
    public var maxBackoff: Duration
    /// The factor by which each wait grows.
    public var multiplier: Double
    /// The largest fraction (0…1) by which a wait is randomly shortened.
    public var jitter: Double

    /// Runs once, no retry.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// Limits that `validate()` enforces.
    public static let maxAttemptsLimit = 1000
    public static let maxBackoffLimit: Duration = .seconds(7 * 24 * 3600)

    public init(
        maxAttempts: Int,
        initialBackoff: Duration = .seconds(1),
        maxBackoff: Duration = .seconds(300),
        multiplier: Double = 2,
        jitter: Double = 0.2
    ) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.multiplier = multiplier
        self.jitter = jitter
    }

    /// The wait before the next attempt, after `failedAttempts` attempts have failed (≥ 1).
    /// `unitRandom` is a number in 0..<1 (injected, so that tests are deterministic).
    public func backoff(afterFailedAttempts failedAttempts: Int, unitRandom: Double) -> Duration {
        let exponent = Double(max(0, failedAttempts - 1))
        let initial = initialBackoff.inSeconds
        let cap = maxBackoff.inSeconds
        // pow can overflow to +inf for large exponents; min() then takes the cap.
        let base = min(cap, initial * pow(multiplier, exponent))
        let jittered = base * (1 - jitter * min(max(unitRandom, 0), 1))
        return .milliseconds(Int64((jittered * 1000).rounded(.down)))
    }

    /// The wait before the next attempt, with the system's random numbers.
    public func backoff(afterFailedAttempts failedAttempts: Int) -> Duration {
        backoff(afterFailedAttempts: failedAttempts, unitRandom: Double.random(in: 0..<1))
    }

    /// Throws when a field is out of range, naming the field.
    public func validate() throws(JobSpecError) {
        guard (1...Self.maxAttemptsLimit).contains(maxAttempts) else {
            throw .invalidField("retry.max_attempts", "must be between 1 and \(Self.maxAttemptsLimit)")
        }
        guard initialBackoff >= .zero, initialBackoff <= Self.maxBackoffLimit else {
            throw .invalidField("retry.backoff_seconds", "must be between 0 and \(Self.maxBackoffLimit.inSeconds)")
        }
        guard maxBackoff >= initialBackoff, maxBackoff <= Self.maxBackoffLimit else {
            throw .invalidField(
                "retry.max_backoff_seconds",
                "must be at least backoff_seconds and at most \(Self.maxBackoffLimit.inSeconds)"
            )
        }
        guard multiplier.isFinite, (1...100).contains(multiplier) else {
            throw .invalidField("retry.multiplier", "must be between 1 and 100")
        }
        guard jitter.isFinite, (0...1).contains(jitter) else {
            throw .invalidField("retry.jitter", "must be between 0 and 1")
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case maxAttempts = "max_attempts"
        case initialBackoff = "backoff_seconds"
        case maxBackoff = "max_backoff_seconds"
        case multiplier
        case jitter
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownOrNullFields(decoder, known: CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = RetryPolicy(maxAttempts: 1)
        // Required, as docs/openapi.yaml says: a retry policy without it would default to one
        // attempt, that is no retry at all, which is surely not what its sender meant.
        maxAttempts = try container.decode(Int.self, forKey: .maxAttempts)
        // One of the two given alone moves the other's default out of its way: a backoff_seconds
        // of 600 raises the default cap (300), a max_backoff_seconds of 0.1 lowers the default
        // first wait (1), rather than being refused for a bound nobody asked for.
        let initial = try container.decodeSecondsIfPresent(forKey: .initialBackoff, atMost: Self.maxBackoffLimit)
        let cap = try container.decodeSecondsIfPresent(forKey: .maxBackoff, atMost: Self.maxBackoffLimit)
        initialBackoff = initial ?? min(defaults.initialBackoff, cap ?? defaults.initialBackoff)
        maxBackoff = cap ?? max(defaults.maxBackoff, initialBackoff)
        multiplier = try container.decodeIfPresent(Double.self, forKey: .multiplier) ?? defaults.multiplier
        jitter = try container.decodeIfPresent(Double.self, forKey: .jitter) ?? defaults.jitter
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(maxAttempts, forKey: .maxAttempts)
        try container.encode(initialBackoff.inSeconds, forKey: .initialBackoff)
        try container.encode(maxBackoff.inSeconds, forKey: .maxBackoff)
        try container.encode(multiplier, forKey: .multiplier)
        try container.encode(jitter, forKey: .jitter)
    }
}
