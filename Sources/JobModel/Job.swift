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
    /// Attempts started so far (a retry by hand starts again from 0).
    public var attempts: Int
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

    /// Whether another attempt is allowed after the current one fails.
    public var hasAttemptsLeft: Bool { attempts < spec.retry.maxAttempts }

    enum CodingKeys: String, CodingKey {
        case id, spec, state, attempts
        case runAt = "run_at"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case exitCode = "exit_code"
        case signal, error
        case stdoutPath = "stdout_path"
        case stderrPath = "stderr_path"
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
