import JobBasics

/// Specs: a submit body's (one spec, or `{"jobs":[spec, …]}`) and the store's (a spec as
/// ``JobSpec/compactJSON`` wrote it). The fields are `JobSpec.CodingKeys`, the list Codable
/// reads, in an exhaustive switch: a new field of the spec does not compile until the reader
/// takes it or leaves it to `JSONDecoder`.
extension BodyReader {
    /// The spec's fields by name (a table: `CodingKeys(rawValue:)` compares the name with each).
    static let specFields = Dictionary(uniqueKeysWithValues: JobSpec.CodingKeys.allCases.map { ($0.rawValue, $0) })

    /// The specs of a submit body, or `nil` when `JSONDecoder` must decide.
    public static func specs(_ bytes: some Collection<UInt8>) -> [JobSpec]? {
        read(bytes) { $0.submitBody() }
    }

    /// One spec (as the store keeps it), or `nil` when `JSONDecoder` must decide.
    public static func spec(_ bytes: UnsafeBufferPointer<UInt8>) -> JobSpec? {
        read(buffer: bytes) { $0.spec() }
    }

    /// `{"jobs":[…]}` or one spec.
    mutating func submitBody() -> [JobSpec]? {
        let start = index
        guard take(UInt8(ascii: "{")) else { return nil }
        var specs: [JobSpec]
        if let key = string(), key == "jobs" {
            guard take(UInt8(ascii: ":")), take(UInt8(ascii: "[")) else { return nil }
            specs = []
            if !take(UInt8(ascii: "]")) {
                repeat {
                    guard let spec = spec() else { return nil }
                    specs.append(spec)
                } while take(UInt8(ascii: ","))
                guard take(UInt8(ascii: "]")) else { return nil }
            }
            guard take(UInt8(ascii: "}")) else { return nil }
        } else {
            index = start
            guard let spec = spec() else { return nil }
            specs = [spec]
        }
        return specs
    }

    mutating func spec() -> JobSpec? {
        guard take(UInt8(ascii: "{")) else { return nil }
        var argv: [String]?
        var shell: String?
        var payload: JSONValue?
        var spec = JobSpec(command: .argv([]))
        var seen: UInt32 = 0
        if !take(UInt8(ascii: "}")) {
            repeat {
                // An unknown field, a repeated one or null is refused: JSONDecoder says so.
                guard let key = string(), let field = Self.specFields[key], seen & field.bit == 0, take(UInt8(ascii: ":")),
                      !takeNull() else { return nil }
                seen |= field.bit
                switch field {
                case .argv:
                    guard let value = stringArray() else { return nil }
                    argv = value
                case .shell:
                    guard let value = string() else { return nil }
                    shell = value
                case .cwd:
                    guard let value = string() else { return nil }
                    spec.cwd = value
                case .env:
                    guard let value = stringObject() else { return nil }
                    spec.env = value
                case .queue:
                    guard let value = string() else { return nil }
                    spec.queue = value
                case .priority:
                    guard let value = integer(), let priority = Int(exactly: value) else { return nil }
                    spec.priority = priority
                case .runAt:
                    guard let text = string(), let time = Timestamp(rfc3339: text) else { return nil }
                    spec.runAt = time
                case .timeout:
                    guard let (milliseconds, exact) = wholeMilliseconds(),
                          exact || milliseconds < JobSpec.Limits.timeout.wholeMilliseconds else {
                        return nil  // above the limit by less than a millisecond: JSONDecoder refuses it
                    }
                    spec.timeout = .milliseconds(milliseconds)
                case .after:
                    guard take(UInt8(ascii: "[")) else { return nil }
                    var ids: [JobID] = []
                    if !take(UInt8(ascii: "]")) {
                        repeat {
                            guard let value = integer() else { return nil }
                            ids.append(JobID(rawValue: value))
                        } while take(UInt8(ascii: ","))
                        guard take(UInt8(ascii: "]")) else { return nil }
                    }
                    spec.after = ids
                case .idempotencyKey:
                    guard let value = string() else { return nil }
                    spec.idempotencyKey = value
                case .label:
                    guard let value = string() else { return nil }
                    spec.label = value
                case .submitterUID:
                    guard let value = integer(), let uid = UInt32(exactly: value) else { return nil }
                    spec.submitterUID = uid
                case .payload:
                    guard let value = value() else { return nil }
                    payload = value
                case .limits:
                    guard let value = limits() else { return nil }
                    spec.limits = value
                case .retry:
                    return nil  // JSONDecoder reads a retry policy
                }
            } while take(UInt8(ascii: ","))
            guard take(UInt8(ascii: "}")) else { return nil }
        }
        switch (argv, shell, payload) {
        case (let argv?, nil, nil): spec.command = .argv(argv)
        case (nil, let shell?, nil): spec.command = .shell(shell)
        case (nil, nil, let payload?): spec.command = .payload(payload)
        default: return nil
        }
        return spec
    }
}

extension BodyReader {
    /// A spec's `limits`: `{"memory_bytes": N, …}`, plain integers, each field once.
    mutating func limits() -> ResourceLimits? {
        guard take(UInt8(ascii: "{")) else { return nil }
        var limits = ResourceLimits()
        var seen: Set<ResourceLimits.CodingKeys> = []
        if take(UInt8(ascii: "}")) { return limits }
        repeat {
            guard let key = string(), let field = ResourceLimits.CodingKeys(rawValue: key), seen.insert(field).inserted,
                  take(UInt8(ascii: ":")), let value = integer() else { return nil }
            switch field {
            case .memoryBytes: limits.memoryBytes = value
            case .cpuSeconds: limits.cpuSeconds = value
            case .openFiles: limits.openFiles = value
            case .processes: limits.processes = value
            case .fileSizeBytes: limits.fileSizeBytes = value
            }
        } while take(UInt8(ascii: ","))
        return take(UInt8(ascii: "}")) ? limits : nil
    }
}

extension JobSpec.CodingKeys {
    /// The field's bit in a set of fields read (a set of strings cost more than the spec's fields).
    fileprivate var bit: UInt32 {
        switch self {
        case .argv: 1 << 0
        case .shell: 1 << 1
        case .payload: 1 << 2
        case .cwd: 1 << 3
        case .env: 1 << 4
        case .queue: 1 << 5
        case .priority: 1 << 6
        case .runAt: 1 << 7
        case .timeout: 1 << 8
        case .retry: 1 << 9
        case .after: 1 << 10
        case .idempotencyKey: 1 << 11
        case .label: 1 << 12
        case .submitterUID: 1 << 13
        case .limits: 1 << 14
        }
    }
}
