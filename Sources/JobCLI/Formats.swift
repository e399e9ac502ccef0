import Foundation
import JobModel

/// Parses and prints durations and times the way people type and read them.
public enum Formats {
    /// `90s`, `5m`, `1h30m`, `2d`, `500ms`, or a plain number of seconds. `nil` when the text
    /// is not one of those (or is negative).
    public static func duration(_ text: String) -> Duration? {
        if let seconds = Double(text), seconds.isFinite, seconds >= 0 {
            return .milliseconds(Int64((seconds * 1000).rounded()))
        }
        var total: Int64 = 0
        var number = ""
        var index = text.startIndex
        var sawUnit = false
        while index < text.endIndex {
            let character = text[index]
            if character.isASCII, character.isNumber || character == "." {
                number.append(character)
                index = text.index(after: index)
                continue
            }
            var unit = String(character)
            index = text.index(after: index)
            if unit == "m", index < text.endIndex, text[index] == "s" {
                unit = "ms"
                index = text.index(after: index)
            }
            let scale: Double
            switch unit {
            case "ms": scale = 1
            case "s": scale = 1000
            case "m": scale = 60_000
            case "h": scale = 3_600_000
            case "d": scale = 86_400_000
            case "w": scale = 604_800_000
            default: return nil
            }
            guard let value = Double(number), value.isFinite, value >= 0 else { return nil }
            total += Int64((value * scale).rounded())
            number = ""
            sawUnit = true
        }
        guard number.isEmpty, sawUnit else { return nil }
        return .milliseconds(total)
    }

    /// An ISO 8601 time: `2026-11-25T18:00:00Z`, with an offset, with fractions of a second, or
    /// without a zone (local time); a date alone is its midnight, local time.
    public static func time(_ text: String) -> Timestamp? {
        let zoned = ISO8601DateFormatter()
        zoned.formatOptions = [.withInternetDateTime]
        if let date = zoned.date(from: text) { return Timestamp(date) }
        zoned.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = zoned.date(from: text) { return Timestamp(date) }
        let local = DateFormatter()
        local.locale = Locale(identifier: "en_US_POSIX")
        local.timeZone = TimeZone.current
        for format in ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm", "yyyy-MM-dd"] {
            local.dateFormat = format
            if let date = local.date(from: text) { return Timestamp(date) }
        }
        return nil
    }

    /// `850ms`, `42s`, `3m05s`, `2h07m`, `3d04h`.
    public static func describe(milliseconds: Int64) -> String {
        let ms = max(0, milliseconds)
        if ms < 1000 { return "\(ms)ms" }
        let seconds = ms / 1000
        if seconds < 60 { return ms < 10_000 ? String(format: "%.1fs", Double(ms) / 1000) : "\(seconds)s" }
        if seconds < 3600 { return String(format: "%dm%02ds", seconds / 60, seconds % 60) }
        if seconds < 86_400 { return String(format: "%dh%02dm", seconds / 3600, (seconds % 3600) / 60) }
        return String(format: "%dd%02dh", seconds / 86_400, (seconds % 86_400) / 3600)
    }

    /// A table cell of at most `width` characters: control characters escaped (a newline as
    /// `\n`, so that a row stays one line), and `…` where the text was cut.
    public static func cell(_ text: String, width: Int) -> String {
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": escaped += "\\n"
            case "\t": escaped += "\\t"
            case "\r": escaped += "\\r"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                escaped += String(format: "\\x%02X", scalar.value)
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped.count > width ? String(escaped.prefix(width - 1)) + "…" : escaped
    }

    /// A time in full, for `show`: `2027-01-15 14:03:27`, local.
    public static func describeFull(_ time: Timestamp) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: Double(time.millisecondsSinceEpoch) / 1000))
    }

    /// A time as people read it: `14:03:27` today, `Nov 24 14:03` this year, else
    /// `2025-11-24 14:03`.
    public static func describe(_ time: Timestamp, now: Date = Date()) -> String {
        let date = Date(timeIntervalSince1970: Double(time.millisecondsSinceEpoch) / 1000)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        let calendar = Calendar.current
        if calendar.isDate(date, inSameDayAs: now) {
            formatter.dateFormat = "HH:mm:ss"
        } else if calendar.component(.year, from: date) == calendar.component(.year, from: now) {
            formatter.dateFormat = "MMM dd HH:mm"
        } else {
            formatter.dateFormat = "yyyy-MM-dd HH:mm"
        }
        return formatter.string(from: date)
    }
}

/// Terminal styling: colours only when stdout is a terminal and `NO_COLOR` is not set.
struct Style {
    var colour: Bool

    static func forStandardOutput(environment: [String: String] = ProcessInfo.processInfo.environment) -> Style {
        Style(colour: isatty(STDOUT_FILENO) == 1 && environment["NO_COLOR"] == nil && environment["TERM"] != "dumb")
    }

    func state(_ state: JobState) -> String {
        guard colour else { return state.rawValue }
        let code = switch state {
        case .queued: "36"  // cyan
        case .blocked: "35"  // magenta
        case .running: "33"  // yellow
        case .succeeded: "32"  // green
        case .failed: "31"  // red
        case .cancelled: "90"  // grey
        }
        return "\u{1B}[\(code)m\(state.rawValue)\u{1B}[0m"
    }

    func bold(_ text: String) -> String {
        colour ? "\u{1B}[1m\(text)\u{1B}[0m" : text
    }
}

/// Columns aligned on their widths (ANSI colour codes do not count).
struct Table {
    var header: [String]
    var rows: [[String]] = []
    /// Columns aligned to the right (numbers).
    var rightAligned: Set<Int> = []

    func render(style: Style) -> String {
        let widths = header.indices.map { column in
            ([header] + rows).map { visibleWidth($0[column]) }.max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - visibleWidth(cell))
                if column == cells.count - 1, !rightAligned.contains(column) { return cell }
                return rightAligned.contains(column) ? pad + cell : cell + pad
            }.joined(separator: "  ")
        }
        return ([style.bold(line(header))] + rows.map(line)).joined(separator: "\n")
    }

    private func visibleWidth(_ text: String) -> Int {
        var width = 0
        var escaping = false
        for character in text {
            if character == "\u{1B}" { escaping = true; continue }
            if escaping { if character == "m" { escaping = false }; continue }
            width += 1
        }
        return width
    }
}
