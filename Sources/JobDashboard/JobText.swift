import Foundation
import JobModel

/// How the pages write a job's times (to the second), durations and outcome; its command and
/// sizes are ``DisplayText``'s, as `jobq` writes them.
enum JobText {
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

    /// How a run or a job ended: its exit code, its signal, or the error that stopped it.
    static func outcome(exitCode: Int32?, signal: Int32?, error: String?) -> String {
        if let signal { return "signal \(signal)" }
        if let exitCode { return "exit \(exitCode)" }
        return error ?? ""
    }
}
