/// Where a job is in its life.
///
/// ```
/// blocked ──(dependencies succeeded)──▶ queued ──(claimed)──▶ running ──▶ succeeded
///    │                                   ▲  │                   │  │
///    │                                   │  └──▶ cancelled ◀────┘  └──▶ failed
///    └──(a dependency failed)──▶ failed  └──(retry, release, recovery)──┘
/// ```
///
/// `failed` and `cancelled` jobs can be queued again by hand (`retry`); `succeeded` is final.
/// The allowed moves are ``canTransition(to:)``; the store refuses every other one.
public enum JobState: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Ready to run, or waiting for its `run_at` (a delayed job or a retry's backoff).
    case queued
    /// Waiting for the jobs it runs after to succeed.
    case blocked
    /// Claimed by a worker: its command is running (or about to).
    case running
    /// Its command exited with status 0.
    case succeeded
    /// Its last attempt failed (non-zero exit, signal, timeout, spawn error) and no attempt is
    /// left, or a job it depends on failed or was cancelled.
    case failed
    /// Cancelled by a user before it finished.
    case cancelled

    /// Whether the job will not change again by itself (`succeeded`, `failed`, `cancelled`).
    public var isTerminal: Bool {
        switch self {
        case .succeeded, .failed, .cancelled: true
        case .queued, .blocked, .running: false
        }
    }

    /// The states a job in this state may move to.
    public var allowedSuccessors: Set<JobState> {
        switch self {
        // Claimed by a worker; cancelled by a user.
        case .queued: [.running, .cancelled]
        // Dependencies succeeded, one failed, or cancelled by a user.
        case .blocked: [.queued, .failed, .cancelled]
        // Finished; back to queued for a retry, a release of an unstarted claim, or recovery
        // after a crash; cancelled by a user while running.
        case .running: [.succeeded, .failed, .queued, .cancelled]
        // Terminal; only a retry by hand brings failed and cancelled jobs back.
        case .succeeded: []
        case .failed: [.queued]
        case .cancelled: [.queued]
        }
    }

    /// Whether moving from this state to `next` is allowed.
    public func canTransition(to next: JobState) -> Bool {
        allowedSuccessors.contains(next)
    }

    /// The states that count as live for idempotency keys: a key names at most one of them.
    public static let live: [JobState] = [.queued, .blocked, .running]

    /// The terminal states.
    public static let terminal: [JobState] = [.succeeded, .failed, .cancelled]

    public var description: String { rawValue }
}
