import Foundation

/// Helpers for the strict JSON the API accepts.

/// A coding key for any name, to list what an object holds.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension CodingUserInfoKey {
    /// Set to `true` in a decoder's `userInfo` for JSON that jobq wrote itself (a stored spec):
    /// the check for unknown and `null` fields, about a third of a spec's decoding, is skipped.
    public static let jobqWrittenJSON = CodingUserInfoKey(rawValue: "jobq.written-json")!
}

/// Throws when the object being decoded has a key outside `known`: a misspelt field
/// (`"prority"`) is an error, not silently ignored; and when a field is `null`. Nothing is
/// checked for JSON jobq wrote itself (``CodingUserInfoKey/jobqWrittenJSON``).
func rejectUnknownOrNullFields(_ decoder: any Decoder, known: [String]) throws {
    if decoder.userInfo[.jobqWrittenJSON] as? Bool == true { return }
    let container = try decoder.container(keyedBy: AnyCodingKey.self)
    let known = Set(known)
    let keys = container.allKeys.sorted { $0.stringValue < $1.stringValue }
    if let unknown = keys.map(\.stringValue).first(where: { !known.contains($0) }) {
        throw DecodingError.dataCorrupted(
            DecodingError.Context(
                codingPath: decoder.codingPath + [AnyCodingKey(stringValue: unknown)],
                debugDescription: "unknown field '\(unknown)'; known fields: \(known.sorted().joined(separator: ", "))"
            )
        )
    }
    // A field is a value or absent: `null` would otherwise read as absent for optional fields
    // only, and mean nothing clear (docs/openapi.yaml declares none of them nullable).
    if let null = try keys.first(where: { try container.decodeNil(forKey: $0) }) {
        throw DecodingError.dataCorrupted(
            DecodingError.Context(
                codingPath: decoder.codingPath + [null],
                debugDescription: "null is not a value for '\(null.stringValue)': give one, or leave the field out"
            )
        )
    }
}

extension KeyedDecodingContainer {
    /// A duration given in seconds (integer or fractional); must not be negative, nor above
    /// `limit` when one is given. Counted in whole milliseconds, from the number's digits
    /// (JSONDecoder reads a `Decimal` exactly; a `Double` made 8338.755 s into 8,338,754 ms).
    /// The limit is checked on the number as given: 604800.0000002 is above 604800 though its
    /// whole milliseconds are not.
    func decodeSecondsIfPresent(forKey key: Key, atMost limit: Duration? = nil) throws -> Duration? {
        guard contains(key) else { return nil }
        let limitMilliseconds = limit?.wholeMilliseconds
        // Made only when thrown: its Decimal text cost more than the whole decode of a spec.
        var outOfRange: DecodingError {
            DecodingError.dataCorruptedError(
                forKey: key, in: self,
                debugDescription: limitMilliseconds.map { "must be a number of seconds from 0 to \(Decimal($0) / 1000)" }
                    ?? "must be a number of seconds, 0 or more")
        }
        guard let seconds = try? decodeIfPresent(Decimal.self, forKey: key) else {
            // Absent, not a number, or a number beyond a Decimal's exponents (about 10^±128; JSON
            // allows 5e-324): a Double decides, with its own error for what is not a number.
            guard let approximate = try decodeIfPresent(Double.self, forKey: key) else { return nil }
            guard approximate.isFinite, approximate >= 0, approximate < 1e12 else { throw outOfRange }
            if let limitMilliseconds, approximate * 1000 > Double(limitMilliseconds) { throw outOfRange }
            return .milliseconds(Int64((approximate * 1000).rounded(.down)))
        }
        guard seconds.isFinite, seconds >= 0, seconds < 1_000_000_000_000 else { throw outOfRange }
        if let limitMilliseconds, seconds * 1000 > Decimal(limitMilliseconds) { throw outOfRange }
        var thousandfold = seconds * 1000
        var milliseconds = Decimal()
        NSDecimalRound(&milliseconds, &thousandfold, 0, .down)
        return .milliseconds(NSDecimalNumber(decimal: milliseconds).int64Value)
    }
}
