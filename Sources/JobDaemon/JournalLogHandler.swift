import Foundation
import Logging

/// Log lines on standard error that read well both in a terminal and in journald.
///
/// Under systemd (`JOURNAL_STREAM` set) each line starts with its syslog priority in angle
/// brackets (`<6>`), which journald turns into the entry's priority (sd-daemon(3)); journald adds
/// its own timestamps. Elsewhere a line starts with an RFC 3339 time and the level. Metadata
/// follows the message as `key=value` pairs, sorted, so that `journalctl -u jobqd | grep job=42`
/// finds a job's lines.
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let journal: Bool
    private let write: @Sendable (String) -> Void
    private let now: @Sendable () -> Date

    /// - Parameters:
    ///   - journal: whether standard error goes to journald (`JOURNAL_STREAM` is set).
    ///   - write: where finished lines go (standard error; tests capture them).
    public init(
        label: String, level: Logger.Level, journal: Bool,
        write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) },
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.label = label
        self.logLevel = level
        self.journal = journal
        self.write = write
        self.now = now
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        var line = journal
            ? "<\(Self.priority(event.level))>"
            : "\(now().formatted(.iso8601)) \(event.level) "
        line += "\(label): \(event.message)"
        for key in merged.keys.sorted() {
            line += " \(key)=\(merged[key].map { "\($0)" } ?? "")"
        }
        write(line.replacingOccurrences(of: "\n", with: " ") + "\n")
    }

    /// syslog priorities, as journald reads them.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}
