import Foundation
import JobModel

/// How the pages write a job's parts as text: its command as a shell would read it, times to
/// the second, durations and sizes a person reads at a glance.
enum JobText {
    static func command(_ command: Command) -> String {
        switch command {
        case .argv(let argv): argv.map(quoted).joined(separator: " ")
        case .shell(let line): line
        case .payload(let value): json(value)
        }
    }

    static func json(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
    }

    /// An argument in single quotes when a shell would split or expand it.
    static func quoted(_ argument: String) -> String {
        let plain = !argument.isEmpty && argument.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) || "-_./=:,+@%".unicodeScalars.contains($0)
        }
        return plain ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// `2026-12-08 02:03:04` in UTC, from the RFC 3339 form.
    static func time(_ time: Timestamp?) -> String {
        guard let time else { return "" }
        let text = time.description
        return String(text.prefix(19)).replacingOccurrences(of: "T", with: " ")
    }

    static func duration(_ duration: Duration?) -> String {
        guard let duration else { return "" }
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        if seconds < 1 { return "\(Int(seconds * 1000)) ms" }
        if seconds < 120 { return String(format: "%.1f s", seconds) }
        if seconds < 7200 { return String(format: "%.1f min", seconds / 60) }
        return String(format: "%.1f h", seconds / 3600)
    }

    static func bytes(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
    }

    /// How a run or a job ended: its exit code, its signal, or the error that stopped it.
    static func outcome(exitCode: Int32?, signal: Int32?, error: String?) -> String {
        if let signal { return "signal \(signal)" }
        if let exitCode { return "exit \(exitCode)" }
        return error ?? ""
    }
}
