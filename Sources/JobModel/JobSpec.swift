import Foundation
import JobBasics

/// What the job is: a command jobqd runs (an argument vector passed straight to exec, or a
/// shell command line, only when the submitter asks for a shell), or a payload that an
/// external consumer leases, works on and completes (docs/consumers.md).
public enum Command: Hashable, Sendable {
    /// `argv[0]` is the program (looked up in `PATH` when it has no slash), the rest its
    /// arguments, each passed as is: no word splitting, no globbing, no quoting to get wrong.
    case argv([String])
    /// A command line for `/bin/sh -c`, for pipes and redirections.
    case shell(String)
    /// A JSON value for a consumer: jobqd runs nothing, a consumer leases the job.
    case payload(JSONValue)

    /// Whether the job is for a consumer rather than for jobqd's workers.
    public var isPayload: Bool {
        if case .payload = self { return true }
        return false
    }
}

/// Everything a submitter says about a job. The store adds the id, the state and the history
/// (``Job``).
///
/// JSON (the API's request body; exactly one of `argv`, `shell` or `payload` is required):
///
/// ```json
/// {"argv": ["backup", "--full"], "queue": "nightly", "priority": 5,
///  "run_at": "2026-11-26T02:00:00Z", "timeout_seconds": 3600,
///  "retry": {"max_attempts": 3}, "after": [41], "idempotency_key": "backup-2026-11-26",
///  "label": "backup", "cwd": "/srv", "env": {"LANG": "C.UTF-8"}}
/// ```
///
/// Unknown fields are refused, so that a misspelt one is an error rather than ignored.
public struct JobSpec: Hashable, Sendable, Codable {
    /// The command to run.
    public var command: Command
    /// The working directory (absolute); `nil` means the daemon's state directory.
    public var cwd: String?
    /// Variables added to (or replacing those of) the environment the daemon gives jobs.
    public var env: [String: String]
    /// The named queue the job runs in.
    public var queue: String
    /// Higher runs first among a queue's ready jobs.
    public var priority: Int
    /// Not before this time (`nil`: as soon as a worker is free).
    public var runAt: Timestamp?
    /// The longest an attempt may run before it is stopped (`nil`: no limit).
    public var timeout: Duration?
    /// How often and when a failed job runs again.
    public var retry: RetryPolicy
    /// Jobs that must succeed before this one runs.
    public var after: [JobID]
    /// A key that names at most one live job: submitting it again while that job is queued,
    /// blocked or running returns that job instead of a new one.
    public var idempotencyKey: String?
    /// A free-form tag to find jobs by (`jobq list --label`).
    public var label: String?
    /// The Unix user who submitted the job (set by the daemon from the socket's peer
    /// credentials; whatever a client sends is replaced).
    public var submitterUID: UInt32?
    /// Resource limits of the command's process (its queue's defaults fill those not set).
    public var limits = ResourceLimits()

    /// The queue used when a spec names none.
    public static let defaultQueue = "default"

    /// A job running `command` with every other field at its default.
    public init(
        command: Command,
        cwd: String? = nil,
        env: [String: String] = [:],
        queue: String = JobSpec.defaultQueue,
        priority: Int = 0,
        runAt: Timestamp? = nil,
        timeout: Duration? = nil,
        retry: RetryPolicy = .none,
        after: [JobID] = [],
        idempotencyKey: String? = nil,
        label: String? = nil,
        submitterUID: UInt32? = nil,
        limits: ResourceLimits = ResourceLimits()
    ) {
        self.command = command
        self.cwd = cwd
        self.env = env
        self.queue = queue
        self.priority = priority
        self.runAt = runAt
        self.timeout = timeout
        self.retry = retry
        self.after = after
        self.idempotencyKey = idempotencyKey
        self.label = label
        self.submitterUID = submitterUID
        self.limits = limits
    }

    /// A job running `argv`.
    public init(argv: [String], queue: String = JobSpec.defaultQueue) {
        self.init(command: .argv(argv), queue: queue)
    }

    // MARK: Validation

    /// The bounds `validate()` checks (shared with `jobq`'s quick submit path).
    public typealias Limits = JobLimits

    /// Throws the first problem found, naming the field and what it must be. A spec that passes
    /// can be stored and run.
    public func validate() throws(JobSpecError) {
        switch command {
        case .argv(let argv):
            guard let program = argv.first, !program.isEmpty else {
                throw .invalidField("argv", "must hold at least the program to run")
            }
            guard argv.count <= Limits.argumentCount else {
                throw .invalidField("argv", "has more than \(Limits.argumentCount) arguments")
            }
            guard argv.reduce(0, { $0 + $1.utf8.count }) <= Limits.commandBytes else {
                throw .invalidField("argv", "is longer than \(Limits.commandBytes) bytes")
            }
            if argv.contains(where: { $0.utf8.contains(0) }) {
                throw .invalidField("argv", "must not contain NUL bytes")
            }
        case .shell(let line):
            guard !JobLimits.isBlankShell(line) else {
                throw .invalidField("shell", "must not be empty")
            }
            guard line.utf8.count <= Limits.commandBytes else {
                throw .invalidField("shell", "is longer than \(Limits.commandBytes) bytes")
            }
            if line.utf8.contains(0) { throw .invalidField("shell", "must not contain NUL bytes") }
        case .payload(let value):
            guard value.compactJSON.utf8.count <= Limits.payloadBytes else {
                throw .invalidField("payload", "is longer than \(Limits.payloadBytes) bytes as compact JSON")
            }
        }
        if command.isPayload {
            // What jobqd gives a command it runs; a consumer is its own process.
            if cwd != nil { throw .invalidField("cwd", "applies to commands only, not to a payload job") }
            if !env.isEmpty { throw .invalidField("env", "applies to commands only, not to a payload job") }
            if timeout != nil {
                throw .invalidField("timeout_seconds", "applies to commands only; a payload job's consumer holds it by its lease")
            }
            if !limits.isEmpty { throw .invalidField("limits", "apply to commands only, not to a payload job") }
        }
        try limits.validate()
        if let cwd {
            guard cwd.startsWithByte(UInt8(ascii: "/")) else { throw .invalidField("cwd", "must be an absolute path") }
            if cwd.utf8.contains(0) { throw .invalidField("cwd", "must not contain NUL bytes") }
        }
        guard env.count <= Limits.environmentCount else {
            throw .invalidField("env", "has more than \(Limits.environmentCount) variables")
        }
        for (name, value) in env {
            guard !name.isEmpty, !name.containsByte(UInt8(ascii: "=")), !name.utf8.contains(0) else {
                throw .invalidField("env", "variable name '\(name)' must be non-empty, without '=' or NUL")
            }
            if value.utf8.contains(0) { throw .invalidField("env", "value of \(name) must not contain NUL bytes") }
        }
        guard Self.isValidQueueName(queue) else {
            throw .invalidField(
                "queue",
                "must be 1 to \(Limits.queueName) characters from A-Z a-z 0-9 . _ - and not start with . or -"
            )
        }
        guard Limits.priority.contains(priority) else {
            throw .invalidField("priority", "must be between \(Limits.priority.lowerBound) and \(Limits.priority.upperBound)")
        }
        if let timeout {
            guard timeout > .zero, timeout <= Limits.timeout else {
                throw .invalidField("timeout_seconds", "must be above 0 and at most one year")
            }
        }
        try retry.validate()
        guard after.count <= Limits.dependencies else {
            throw .invalidField("after", "lists more than \(Limits.dependencies) jobs")
        }
        if let bad = after.first(where: { $0.rawValue <= 0 }) {
            throw .invalidField("after", "\(bad) is not a job id")
        }
        if let idempotencyKey {
            guard !idempotencyKey.isEmpty, idempotencyKey.utf8.count <= Limits.idempotencyKeyBytes else {
                throw .invalidField("idempotency_key", "must be 1 to \(Limits.idempotencyKeyBytes) bytes")
            }
        }
        if let label {
            guard !label.isEmpty, label.utf8.count <= Limits.labelBytes else {
                throw .invalidField("label", "must be 1 to \(Limits.labelBytes) bytes")
            }
        }
    }

    /// Whether `name` can name a queue: 1 to 64 of `A-Z a-z 0-9 . _ -`, not starting with `.`
    /// or `-` (so that it is safe in paths, URLs and command lines).
    public static func isValidQueueName(_ name: String) -> Bool {
        JobLimits.isValidQueueName(name)
    }

    // MARK: Codable

    /// The JSON fields of a spec (what Codable reads and writes, and ``BodyReader``).
    public enum CodingKeys: String, CodingKey, CaseIterable {
        case argv, shell, payload, cwd, env, queue, priority
        case runAt = "run_at"
        case timeout = "timeout_seconds"
        case retry, after
        case idempotencyKey = "idempotency_key"
        case label
        case submitterUID = "submitter_uid"
        case limits
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownOrNullFields(decoder, known: CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let argv = try container.decodeIfPresent([String].self, forKey: .argv)
        let shell = try container.decodeIfPresent(String.self, forKey: .shell)
        let payload = try container.decodeIfPresent(JSONValue.self, forKey: .payload)
        switch (argv, shell, payload) {
        case (let argv?, nil, nil): command = .argv(argv)
        case (nil, let shell?, nil): command = .shell(shell)
        case (nil, nil, let payload?): command = .payload(payload)
        case (nil, nil, nil):
            throw DecodingError.keyNotFound(
                CodingKeys.argv,
                DecodingError.Context(codingPath: decoder.codingPath,
                                      debugDescription: "a job needs 'argv' or 'shell' (a command), or 'payload' (for a consumer)")
            )
        default:
            throw DecodingError.dataCorruptedError(
                forKey: payload != nil ? .payload : .shell, in: container,
                debugDescription: "give one of 'argv', 'shell' or 'payload', not two")
        }
        cwd = try container.decodeIfPresent(String.self, forKey: .cwd)
        env = try container.decodeIfPresent([String: String].self, forKey: .env) ?? [:]
        queue = try container.decodeIfPresent(String.self, forKey: .queue) ?? Self.defaultQueue
        priority = try container.decodeIfPresent(Int.self, forKey: .priority) ?? 0
        runAt = try container.decodeIfPresent(Timestamp.self, forKey: .runAt)
        timeout = try container.decodeSecondsIfPresent(forKey: .timeout, atMost: Limits.timeout)
        retry = try container.decodeIfPresent(RetryPolicy.self, forKey: .retry) ?? .none
        after = try container.decodeIfPresent([JobID].self, forKey: .after) ?? []
        idempotencyKey = try container.decodeIfPresent(String.self, forKey: .idempotencyKey)
        label = try container.decodeIfPresent(String.self, forKey: .label)
        submitterUID = try container.decodeIfPresent(UInt32.self, forKey: .submitterUID)
        limits = try container.decodeIfPresent(ResourceLimits.self, forKey: .limits) ?? ResourceLimits()
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch command {
        case .argv(let argv): try container.encode(argv, forKey: .argv)
        case .shell(let line): try container.encode(line, forKey: .shell)
        case .payload(let value): try container.encode(value, forKey: .payload)
        }
        try container.encodeIfPresent(cwd, forKey: .cwd)
        if !env.isEmpty { try container.encode(env, forKey: .env) }
        try container.encode(queue, forKey: .queue)
        try container.encode(priority, forKey: .priority)
        try container.encodeIfPresent(runAt, forKey: .runAt)
        try container.encodeIfPresent(timeout?.inSeconds, forKey: .timeout)
        try container.encode(retry, forKey: .retry)
        if !after.isEmpty { try container.encode(after, forKey: .after) }
        try container.encodeIfPresent(idempotencyKey, forKey: .idempotencyKey)
        try container.encodeIfPresent(label, forKey: .label)
        try container.encodeIfPresent(submitterUID, forKey: .submitterUID)
        if !limits.isEmpty { try container.encode(limits, forKey: .limits) }
    }
}

/// Why a spec was refused: the field (as named in JSON) and what it must be.
public enum JobSpecError: Error, Hashable, Sendable, CustomStringConvertible {
    case invalidField(_ field: String, _ requirement: String)

    /// The JSON name of the offending field.
    public var field: String {
        switch self { case .invalidField(let field, _): field }
    }

    public var description: String {
        switch self { case .invalidField(let field, let requirement): "\(field) \(requirement)" }
    }
}
