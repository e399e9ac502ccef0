/// What one run of a job's command used, as the kernel counts it for the process and the
/// processes it waited for (`wait4`'s rusage): CPU time in user and kernel mode, and the
/// largest resident set any of them reached.
public struct RunUsage: Hashable, Sendable, Codable {
    public var userCPU: Duration
    public var systemCPU: Duration
    public var maxResidentBytes: Int64

    public init(userCPU: Duration, systemCPU: Duration, maxResidentBytes: Int64) {
        self.userCPU = userCPU
        self.systemCPU = systemCPU
        self.maxResidentBytes = maxResidentBytes
    }

    /// User and kernel CPU time together.
    public var cpu: Duration { userCPU + systemCPU }

    enum CodingKeys: String, CodingKey {
        case userCPU = "user_cpu_seconds"
        case systemCPU = "system_cpu_seconds"
        case maxResidentBytes = "max_rss_bytes"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        // Counted in whole microseconds, as the kernel gives them.
        func microseconds(_ key: CodingKeys) throws -> Duration {
            let seconds = try container.decode(Double.self, forKey: key)
            guard seconds.isFinite, (0..<1e12).contains(seconds) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "must be a number of seconds, 0 or more")
            }
            return .microseconds(Int64((seconds * 1e6).rounded()))
        }
        userCPU = try microseconds(.userCPU)
        systemCPU = try microseconds(.systemCPU)
        maxResidentBytes = try container.decode(Int64.self, forKey: .maxResidentBytes)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(userCPU.inSeconds, forKey: .userCPU)
        try container.encode(systemCPU.inSeconds, forKey: .systemCPU)
        try container.encode(maxResidentBytes, forKey: .maxResidentBytes)
    }
}
