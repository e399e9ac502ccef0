import Foundation

/// Per-job resource limits, set with `setrlimit` in the job's process before it runs its
/// command (docs/operations.md says what each one covers). Each is absent or a positive value;
/// a queue may give defaults and ceilings (``QueueLimits``).
///
/// JSON (in a spec, `limits`): `{"memory_bytes": 2147483648, "cpu_seconds": 600,
/// "open_files": 1024, "processes": 256, "file_size_bytes": 1073741824}`.
public struct ResourceLimits: Hashable, Sendable, Codable {
    /// `RLIMIT_AS`: the process's virtual address space; allocations beyond it fail.
    public var memoryBytes: Int64?
    /// `RLIMIT_CPU`: CPU seconds; SIGXCPU at the limit, SIGKILL 5 s of CPU later.
    public var cpuSeconds: Int64?
    /// `RLIMIT_NOFILE`: open file descriptors.
    public var openFiles: Int64?
    /// `RLIMIT_NPROC`: processes (threads included) of the job's user, not counting root's.
    public var processes: Int64?
    /// `RLIMIT_FSIZE`: the largest file it may write; SIGXFSZ beyond.
    public var fileSizeBytes: Int64?

    public init(memoryBytes: Int64? = nil, cpuSeconds: Int64? = nil, openFiles: Int64? = nil, processes: Int64? = nil,
                fileSizeBytes: Int64? = nil) {
        self.memoryBytes = memoryBytes
        self.cpuSeconds = cpuSeconds
        self.openFiles = openFiles
        self.processes = processes
        self.fileSizeBytes = fileSizeBytes
    }

    /// Whether no limit is set.
    public var isEmpty: Bool { self == ResourceLimits() }

    /// Each limit with its JSON name, in order.
    public var named: [(field: String, value: Int64?)] {
        [("memory_bytes", memoryBytes), ("cpu_seconds", cpuSeconds), ("open_files", openFiles), ("processes", processes),
         ("file_size_bytes", fileSizeBytes)]
    }

    /// These limits, with `defaults` where none is set.
    public func filled(from defaults: ResourceLimits) -> ResourceLimits {
        ResourceLimits(memoryBytes: memoryBytes ?? defaults.memoryBytes, cpuSeconds: cpuSeconds ?? defaults.cpuSeconds,
                       openFiles: openFiles ?? defaults.openFiles, processes: processes ?? defaults.processes,
                       fileSizeBytes: fileSizeBytes ?? defaults.fileSizeBytes)
    }

    /// The first limit set above `ceiling`'s: its JSON name, the value asked for and the ceiling.
    public func firstAbove(_ ceiling: ResourceLimits) -> (field: String, asked: Int64, ceiling: Int64)? {
        for ((field, asked), (_, most)) in zip(named, ceiling.named) {
            if let asked, let most, asked > most { return (field, asked, most) }
        }
        return nil
    }

    /// `2G`, `512M`, `64k`, `1073741824`: bytes, the suffixes binary (K, M, G, T, with or
    /// without `iB`/`B`, either case); nil for anything else, 0 or above 2^62.
    public static func parseBytes(_ text: String) -> Int64? {
        var digits = Substring(text.trimmingCharacters(in: .whitespaces))
        var unit: Int64 = 1
        for suffix in ["ib", "b"] where digits.lowercased().hasSuffix(suffix) && digits.count > suffix.count {
            digits = digits.dropLast(suffix.count)
            break
        }
        if let last = digits.last, let shift = ["k": 10, "m": 20, "g": 30, "t": 40][last.lowercased()] {
            unit = 1 << shift
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let value = Int64(digits), value > 0,
              value <= (1 << 62) / unit else { return nil }
        return value * unit
    }

    /// `600`, `90s`, `10m`, `2h`: whole seconds; nil for anything else, 0 or above a year.
    public static func parseSeconds(_ text: String) -> Int64? {
        var digits = Substring(text.trimmingCharacters(in: .whitespaces))
        var unit: Int64 = 1
        if let last = digits.last, let scale = ["s": 1, "m": 60, "h": 3600][last.lowercased()] {
            unit = Int64(scale)
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let value = Int64(digits), value > 0,
              value <= 31_536_000 / unit else { return nil }
        return value * unit
    }

    /// The largest value of each limit, in ``named``'s order: 2^62 bytes, a year of CPU,
    /// 2^30 files (Linux's most), 4,194,304 processes (its most process ids), 2^62 bytes.
    public static let largest: [Int64] = [1 << 62, 31_536_000, 1 << 30, 4_194_304, 1 << 62]

    /// Throws the first limit that is not from 1 to its largest value.
    public func validate() throws(JobSpecError) {
        for ((field, value), most) in zip(named, Self.largest) {
            if let value, !(1...most).contains(value) { throw .invalidField("limits.\(field)", "must be from 1 to \(most)") }
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case memoryBytes = "memory_bytes"
        case cpuSeconds = "cpu_seconds"
        case openFiles = "open_files"
        case processes
        case fileSizeBytes = "file_size_bytes"
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownOrNullFields(decoder, known: CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        memoryBytes = try container.decodeIfPresent(Int64.self, forKey: .memoryBytes)
        cpuSeconds = try container.decodeIfPresent(Int64.self, forKey: .cpuSeconds)
        openFiles = try container.decodeIfPresent(Int64.self, forKey: .openFiles)
        processes = try container.decodeIfPresent(Int64.self, forKey: .processes)
        fileSizeBytes = try container.decodeIfPresent(Int64.self, forKey: .fileSizeBytes)
    }
}
