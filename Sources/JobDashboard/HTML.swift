/// Markup that is safe to send, safe by construction: the literal parts of an `HTML` string are
/// the page's own tags, and every `String` interpolated into one is escaped (`& < > " '`), so
/// that a job's command, label or output can never become markup.
struct HTML: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    private(set) var text: String

    init(stringLiteral value: String) {
        text = value
    }

    init(stringInterpolation: Interpolation) {
        text = stringInterpolation.text
    }

    /// Already-safe markup joined, for lists of rows.
    init(joining parts: [HTML], separator: HTML = "") {
        text = parts.map(\.text).joined(separator: separator.text)
    }

    var description: String { text }

    struct Interpolation: StringInterpolationProtocol {
        var text = ""

        init(literalCapacity: Int, interpolationCount: Int) {
            text.reserveCapacity(literalCapacity + interpolationCount * 16)
        }

        mutating func appendLiteral(_ literal: String) {
            text += literal
        }

        /// Text, escaped.
        mutating func appendInterpolation(_ value: String) {
            text += HTML.escape(value)
        }

        /// Text, escaped (a name, a number: whatever describes itself).
        mutating func appendInterpolation(_ value: some CustomStringConvertible) {
            text += HTML.escape(value.description)
        }

        /// Markup already safe, as is.
        mutating func appendInterpolation(_ value: HTML) {
            text += value.text
        }

        /// Lists of markup, one after the other.
        mutating func appendInterpolation(_ values: [HTML]) {
            for value in values { text += value.text }
        }
    }

    /// `value` with the five characters that matter in HTML text and attribute values replaced
    /// by their entities.
    static func escape(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) else { return value }
        var escaped = ""
        escaped.reserveCapacity(value.utf8.count + 16)
        for character in value.unicodeScalars {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }
}
