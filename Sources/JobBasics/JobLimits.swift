/// The bounds every job spec is checked against (`JobSpec.validate()`), here so that `jobq`'s
/// quick submit path, which links no Foundation, checks the same ones.
public enum JobLimits {
    public static let argumentCount = 4096
    public static let commandBytes = 256 * 1024
    /// A payload's compact JSON: the API's default body limit, less room for the other fields.
    public static let payloadBytes = 1024 * 1024 - 4096
    public static let environmentCount = 1024
    public static let priority = -1_000_000...1_000_000
    public static let queueName = 64
    public static let labelBytes = 256
    public static let idempotencyKeyBytes = 256
    public static let dependencies = 1000
    public static let timeout: Duration = .seconds(365 * 24 * 3600)

    /// Whether a shell command line is blank: every Unicode scalar in it has the White_Space
    /// property (U+0009–U+000D, U+0020, U+0085, U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029,
    /// U+202F, U+205F, U+3000), the set docs/openapi.yaml's `shell` pattern names. By scalar,
    /// not by `Character`: `" \u{301}"` (a space and a combining accent) is one Character that
    /// Swift calls whitespace, but it holds a scalar that is not.
    public static func isBlankShell(_ line: String) -> Bool {
        line.unicodeScalars.allSatisfy(\.properties.isWhitespace)
    }

    /// 1 to 64 characters from `A-Z a-z 0-9 . _ -`, not starting with `.` or `-`.
    public static func isValidQueueName(_ name: String) -> Bool {
        guard (1...queueName).contains(name.utf8.count),
            let first = name.utf8.first, first != UInt8(ascii: "."), first != UInt8(ascii: "-")
        else { return false }
        return name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default: false
            }
        }
    }
}
