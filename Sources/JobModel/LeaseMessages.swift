/// The bodies of the lease routes (docs/api.md, docs/consumers.md). Unknown fields and `null`
/// are refused, as in a job spec.

/// `POST /v1/queues/{name}/lease`: up to `max` jobs, waiting up to `wait_seconds` for one,
/// each held for `lease_seconds` unless extended; `complete` first completes the leases a
/// consumer finished (one round trip per job for a consumer's loop instead of two).
public struct LeaseRequest: Codable, Hashable, Sendable {
    public var max: Int
    public var waitSeconds: Double
    public var leaseSeconds: Double
    public var consumer: String?
    public var complete: [CompleteManyRequest.Item]?

    public static let maxJobs = 1000
    public static let longestWait = 30.0
    public static let leaseBounds = 1.0...43_200.0
    public static let defaultLeaseSeconds = 60.0
    public static let consumerBytes = 200

    public init(max: Int = 1, waitSeconds: Double = 0, leaseSeconds: Double = LeaseRequest.defaultLeaseSeconds, consumer: String? = nil,
                complete: [CompleteManyRequest.Item]? = nil) {
        self.max = max
        self.waitSeconds = waitSeconds
        self.leaseSeconds = leaseSeconds
        self.consumer = consumer
        self.complete = complete
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case max
        case waitSeconds = "wait_seconds"
        case leaseSeconds = "lease_seconds"
        case consumer, complete
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownOrNullFields(decoder, known: CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(max: try container.decodeIfPresent(Int.self, forKey: .max) ?? 1,
                  waitSeconds: try container.decodeIfPresent(Double.self, forKey: .waitSeconds) ?? 0,
                  leaseSeconds: try container.decodeIfPresent(Double.self, forKey: .leaseSeconds) ?? Self.defaultLeaseSeconds,
                  consumer: try container.decodeIfPresent(String.self, forKey: .consumer),
                  complete: try container.decodeIfPresent([CompleteManyRequest.Item].self, forKey: .complete))
        if let complete, complete.count > CompleteManyRequest.maxLeases {
            throw DecodingError.dataCorruptedError(forKey: .complete, in: container,
                                                   debugDescription: "give at most \(CompleteManyRequest.maxLeases) leases")
        }
    }

    /// Throws the first field out of bounds, naming it.
    public func validate() throws(JobSpecError) {
        guard (1...Self.maxJobs).contains(max) else { throw .invalidField("max", "must be a whole number from 1 to \(Self.maxJobs)") }
        guard waitSeconds.isFinite, (0...Self.longestWait).contains(waitSeconds) else {
            throw .invalidField("wait_seconds", "must be from 0 to \(Int(Self.longestWait)) seconds")
        }
        guard leaseSeconds.isFinite, Self.leaseBounds.contains(leaseSeconds) else {
            throw .invalidField("lease_seconds", "must be from 1 to 43200 seconds (12 hours)")
        }
        if let consumer {
            guard !consumer.isEmpty, consumer.utf8.count <= Self.consumerBytes, !consumer.utf8.contains(0) else {
                throw .invalidField("consumer", "must be 1 to \(Self.consumerBytes) bytes, without NUL")
            }
        }
    }
}

/// The jobs a lease took (each with its `lease`), perhaps none; with `complete` in the
/// request, each completion's outcome, as `POST /v1/leases/complete` gives them.
public struct LeaseResponse: Codable, Hashable, Sendable {
    public var jobs: [Job]
    public var completed: [CompleteManyResponse.Outcome]?

    public init(jobs: [Job], completed: [CompleteManyResponse.Outcome]? = nil) {
        self.jobs = jobs
        self.completed = completed
    }
}

/// `POST /v1/leases/{token}/heartbeat`: extend the lease to `lease_seconds` from now (absent:
/// the default lease).
public struct HeartbeatRequest: Codable, Hashable, Sendable {
    public var leaseSeconds: Double

    public init(leaseSeconds: Double = LeaseRequest.defaultLeaseSeconds) {
        self.leaseSeconds = leaseSeconds
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case leaseSeconds = "lease_seconds"
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownOrNullFields(decoder, known: CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        leaseSeconds = try container.decodeSeconds(forKey: .leaseSeconds, in: LeaseRequest.leaseBounds, absent: LeaseRequest.defaultLeaseSeconds,
                                                   bounds: "from 1 to 43200 seconds (12 hours)")
    }
}

/// `POST /v1/leases/{token}/complete`: the job succeeded, with an optional small `result`.
public struct CompleteRequest: Codable, Hashable, Sendable {
    public var result: JSONValue?

    /// The largest result, as compact JSON.
    public static let resultBytes = 64 * 1024

    public init(result: JSONValue? = nil) {
        self.result = result
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case result
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownOrNullFields(decoder, known: CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        result = try container.decodeResultIfPresent(forKey: .result)
    }
}

/// `POST /v1/leases/{token}/fail`: the attempt failed, and why.
public struct FailRequest: Codable, Hashable, Sendable {
    public var error: String

    public static let errorBytes = 4096

    public init(error: String) {
        self.error = error
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case error
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownOrNullFields(decoder, known: CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        error = try container.decodeIfPresent(String.self, forKey: .error) ?? "the consumer failed the job"
        guard !error.isEmpty, error.utf8.count <= Self.errorBytes else {
            throw DecodingError.dataCorruptedError(forKey: .error, in: container, debugDescription: "must be 1 to \(Self.errorBytes) bytes")
        }
    }
}

/// `POST /v1/leases/{token}/release`: back to the queue, leased again after `delay_seconds`.
public struct ReleaseRequest: Codable, Hashable, Sendable {
    public var delaySeconds: Double

    public init(delaySeconds: Double = 0) {
        self.delaySeconds = delaySeconds
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case delaySeconds = "delay_seconds"
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownOrNullFields(decoder, known: CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        delaySeconds = try container.decodeSeconds(forKey: .delaySeconds, in: 0...31_536_000, absent: 0,
                                                   bounds: "from 0 to 31536000 seconds (a year)")
    }
}

/// `POST /v1/leases/complete`: many leases completed in one transaction.
public struct CompleteManyRequest: Codable, Hashable, Sendable {
    public struct Item: Codable, Hashable, Sendable {
        public var token: LeaseToken
        public var result: JSONValue?

        public init(token: LeaseToken, result: JSONValue? = nil) {
            self.token = token
            self.result = result
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case token, result
        }

        public init(from decoder: any Decoder) throws {
            try rejectUnknownOrNullFields(decoder, known: CodingKeys.allCases.map(\.rawValue))
            let container = try decoder.container(keyedBy: CodingKeys.self)
            token = try container.decode(LeaseToken.self, forKey: .token)
            result = try container.decodeResultIfPresent(forKey: .result)
        }
    }

    public var leases: [Item]

    public static let maxLeases = 1000

    public init(leases: [Item]) {
        self.leases = leases
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case leases
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownOrNullFields(decoder, known: CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        leases = try container.decode([Item].self, forKey: .leases)
        guard (1...Self.maxLeases).contains(leases.count) else {
            throw DecodingError.dataCorruptedError(forKey: .leases, in: container, debugDescription: "give 1 to \(Self.maxLeases) leases")
        }
    }
}

/// The answer to `POST /v1/leases/complete`: one outcome per lease, in order: the job's state
/// (`succeeded`), or the error that lease alone got (`lease_lost`, `not_found`).
public struct CompleteManyResponse: Codable, Hashable, Sendable {
    public struct Outcome: Codable, Hashable, Sendable {
        public var token: LeaseToken
        public var state: JobState?
        public var error: ErrorResponse.Detail?

        public init(token: LeaseToken, state: JobState? = nil, error: ErrorResponse.Detail? = nil) {
            self.token = token
            self.state = state
            self.error = error
        }
    }

    public var results: [Outcome]

    public init(results: [Outcome]) {
        self.results = results
    }
}

extension KeyedDecodingContainer {
    /// A number of seconds within `range`, or `absent` when the field is left out; `bounds`
    /// says the range in the error.
    fileprivate func decodeSeconds(forKey key: Key, in range: ClosedRange<Double>, absent: Double, bounds: String) throws -> Double {
        let seconds = try decodeIfPresent(Double.self, forKey: key) ?? absent
        guard seconds.isFinite, range.contains(seconds) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "must be \(bounds)")
        }
        return seconds
    }

    /// A consumer's result for a completed job: any JSON value, at most
    /// ``CompleteRequest/resultBytes`` as compact JSON.
    fileprivate func decodeResultIfPresent(forKey key: Key) throws -> JSONValue? {
        let result = try decodeIfPresent(JSONValue.self, forKey: key)
        if let result, result.compactJSON.utf8.count > CompleteRequest.resultBytes {
            throw DecodingError.dataCorruptedError(forKey: key, in: self,
                                                   debugDescription: "is longer than \(CompleteRequest.resultBytes) bytes as compact JSON")
        }
        return result
    }
}
