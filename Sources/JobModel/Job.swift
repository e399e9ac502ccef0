/// A stored job: what was submitted, where it is in its life, and what its last attempt did.
///
/// JSON (the API's answer; times are RFC 3339 UTC, absent fields are not yet known):
///
/// ```json
/// {"id": 42, "state": "failed", "spec": {"argv": ["false"], "queue": "default", …},
///  "attempts": 3, "run_at": "…", "created_at": "…", "updated_at": "…", "started_at": "…", "finished_at": "…",
///  "exit_code": 1, "error": "exited with status 1",
///  "stdout_path": "/var/lib/jobq/logs/42.out", "stderr_path": "/var/lib/jobq/logs/42.err"}
/// ```
public struct Job: Hashable, Sendable, Codable, Identifiable {
    /// The job's id, assigned by the store.
    public var id: JobID
    /// What was submitted.
    public var spec: JobSpec
    /// Where the job is in its life.
    public var state: JobState
    /// Attempts started so far (a retry by hand starts again from 0), not counting those
    /// ``interruptedAttempts`` cut short.
    public var attempts: Int
    /// Attempts cut short because jobqd stopped or crashed while they ran; the job ran again
    /// after each, and they do not count toward its retry limit.
    public var interruptedAttempts = 0
    /// How many times the job has started, every run counted (interrupted ones, and those
    /// before a retry by hand): each run's output is kept apart (``logPath(directory:id:run:stream:)``).
    public var runs = 0
    /// When the job is due: its `run_at` when submitted with one, the time of its next retry
    /// after a failed attempt, otherwise when it was submitted.
    public var runAt: Timestamp
    /// When the job was stored.
    public var createdAt: Timestamp
    /// When the job's row last changed.
    public var updatedAt: Timestamp
    /// When the latest attempt started.
    public var startedAt: Timestamp?
    /// When the job reached a terminal state.
    public var finishedAt: Timestamp?
    /// The latest attempt's exit status, when it exited.
    public var exitCode: Int32?
    /// The signal that ended the latest attempt, when one did.
    public var signal: Int32?
    /// Why the latest attempt failed, or why the job was failed, cancelled or requeued.
    public var error: String?
    /// Where the latest attempt's standard output is written.
    public var stdoutPath: String?
    /// Where the latest attempt's standard error is written.
    public var stderrPath: String?
    /// A payload job's lease, while a consumer holds it (the job is `running`).
    public var lease: Lease?
    /// The consumer that leased a payload job last.
    public var consumer: String?
    /// What a consumer said when it completed a payload job, if it said anything.
    public var result: JSONValue?
    /// What the last ended run of the job's command used (``RunUsage``); every run's is in
    /// its history (``RunRecord``).
    public var usage: RunUsage?

    public init(
        id: JobID,
        spec: JobSpec,
        state: JobState,
        attempts: Int = 0,
        runAt: Timestamp? = nil,
        createdAt: Timestamp,
        updatedAt: Timestamp,
        startedAt: Timestamp? = nil,
        finishedAt: Timestamp? = nil,
        exitCode: Int32? = nil,
        signal: Int32? = nil,
        error: String? = nil,
        stdoutPath: String? = nil,
        stderrPath: String? = nil
    ) {
        self.id = id
        self.spec = spec
        self.state = state
        self.attempts = attempts
        self.runAt = runAt ?? spec.runAt ?? createdAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.exitCode = exitCode
        self.signal = signal
        self.error = error
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try container.decode(JobID.self, forKey: .id),
            spec: try container.decode(JobSpec.self, forKey: .spec),
            state: try container.decode(JobState.self, forKey: .state),
            attempts: try container.decode(Int.self, forKey: .attempts),
            runAt: try container.decodeIfPresent(Timestamp.self, forKey: .runAt),
            createdAt: try container.decode(Timestamp.self, forKey: .createdAt),
            updatedAt: try container.decode(Timestamp.self, forKey: .updatedAt),
            startedAt: try container.decodeIfPresent(Timestamp.self, forKey: .startedAt),
            finishedAt: try container.decodeIfPresent(Timestamp.self, forKey: .finishedAt),
            exitCode: try container.decodeIfPresent(Int32.self, forKey: .exitCode),
            signal: try container.decodeIfPresent(Int32.self, forKey: .signal),
            error: try container.decodeIfPresent(String.self, forKey: .error),
            stdoutPath: try container.decodeIfPresent(String.self, forKey: .stdoutPath),
            stderrPath: try container.decodeIfPresent(String.self, forKey: .stderrPath))
        // Absent from a daemon older than the field.
        interruptedAttempts = try container.decodeIfPresent(Int.self, forKey: .interruptedAttempts) ?? 0
        runs = try container.decodeIfPresent(Int.self, forKey: .runs) ?? 0
        lease = try container.decodeIfPresent(Lease.self, forKey: .lease)
        consumer = try container.decodeIfPresent(String.self, forKey: .consumer)
        result = try container.decodeIfPresent(JSONValue.self, forKey: .result)
        usage = try container.decodeIfPresent(RunUsage.self, forKey: .usage)
    }

    /// Where run `run` (from 1) of job `id` writes `stream` (`out` or `err`): `ID.out` for the
    /// first, `ID.N.out` after. The store's claim names the files by the same rule, in SQL.
    public static func logPath(directory: String, id: JobID, run: Int, stream: String) -> String {
        run <= 1 ? "\(directory)/\(id).\(stream)" : "\(directory)/\(id).\(run).\(stream)"
    }

    /// The file of both streams together, beside a run's stdout file (`ID.out` gives `ID.log`);
    /// nil for a stdout path not named so.
    public static func combinedLogPath(besideStdout path: String) -> String? {
        path.hasSuffix(".out") ? String(path.dropLast(4)) + ".log" : nil
    }

    /// Whether another attempt is allowed after the current one fails.
    public var hasAttemptsLeft: Bool { attempts < spec.retry.maxAttempts }

    enum CodingKeys: String, CodingKey {
        case id, spec, state, attempts
        case interruptedAttempts = "interrupted_attempts"
        case runs
        case runAt = "run_at"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case exitCode = "exit_code"
        case signal, error
        case stdoutPath = "stdout_path"
        case stderrPath = "stderr_path"
        case lease, consumer, result, usage
    }
}

/// How an attempt ended, as the engine records it with the store.
public enum JobCompletion: Hashable, Sendable {
    /// The command exited with status 0.
    case succeeded
    /// The attempt failed: the exit status or signal when there was one, and a sentence saying
    /// what happened (`"exited with status 2"`, `"timed out after 30 s"`, `"spawn failed: …"`).
    case failed(exitCode: Int32?, signal: Int32?, reason: String)
}
