/// A job's identity: a positive integer, assigned by the store, never reused.
///
/// In JSON it is a plain number (`"id": 42`); on the command line and in logs it prints as
/// that number.
public struct JobID: RawRepresentable, Hashable, Comparable, Sendable, Codable,
    CustomStringConvertible, ExpressibleByIntegerLiteral
{
    /// The number; positive for every job that exists.
    public var rawValue: Int64

    /// Wraps a number (no check: the store is what says whether such a job exists).
    public init(rawValue: Int64) { self.rawValue = rawValue }

    /// Wraps a number.
    public init(_ rawValue: Int64) { self.rawValue = rawValue }

    /// A literal id, for tests and examples.
    public init(integerLiteral value: Int64) { self.rawValue = value }

    /// Parses a decimal id as people type it (`"42"`); `nil` for anything else, zero or negatives.
    public init?(_ text: some StringProtocol) {
        guard let value = Int64(text), value > 0 else { return nil }
        self.rawValue = value
    }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(Int64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public static func < (lhs: JobID, rhs: JobID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { String(rawValue) }
}
