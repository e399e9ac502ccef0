import Foundation

/// How a job's parts read for people, the same in `jobq`'s tables and the web dashboard's pages.
public enum DisplayText {
    /// The command as a shell would show it (arguments with spaces or quotes are quoted), or a
    /// payload as compact JSON.
    public static func command(_ command: Command) -> String {
        switch command {
        case .shell(let script): return script
        case .payload(let value): return value.compactJSON
        case .argv(let argv):
            return argv.map { argument in
                let plain = !argument.isEmpty && argument.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }
                return plain ? argument : "'" + argument.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
            }.joined(separator: " ")
        }
    }

    /// `512 KiB`, `35.2 MiB`, `1.50 GiB`: binary units, three figures.
    public static func bytes(_ bytes: Int64) -> String {
        let value = Double(max(0, bytes))
        if value < 1024 { return "\(Int64(value)) B" }
        for (unit, size) in [("KiB", 1024.0), ("MiB", 1_048_576.0), ("GiB", 1_073_741_824.0)].reversed() where value >= size {
            let scaled = value / size
            return String(format: scaled < 10 ? "%.2f %@" : scaled < 100 ? "%.1f %@" : "%.0f %@", scaled, unit)
        }
        return "\(Int64(value)) B"
    }
}
