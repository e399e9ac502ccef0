import ArgumentParser
import JobModel

/// What `jobq submit` and `jobq put` set alike on a job from their options: when it may start,
/// its retries, the jobs it waits for, its idempotency key and label.
struct Scheduling {
    var delay: String?
    var at: String?
    var retries: Int
    var after: [String]
    var key: String?
    var label: String?

    /// Sets the fields on `spec`, each value checked (a usage error names the option).
    func apply(to spec: inout JobSpec) throws {
        if let delay { spec.runAt = Timestamp.now().advanced(by: try parseDuration(delay, "--delay")) }
        if let at {
            guard let time = Formats.time(at) else { throw ValidationError("--at: '\(at)' is not an ISO 8601 time") }
            spec.runAt = time
        }
        spec.retry = retries == 0 ? .none : RetryPolicy(maxAttempts: retries + 1)
        spec.after = try parseIDs(after)
        spec.idempotencyKey = key
        spec.label = label
    }
}

/// `spec`, checked as jobqd checks it; its first problem as a usage error.
func validated(_ spec: JobSpec) throws -> JobSpec {
    do {
        try spec.validate()
    } catch {
        throw ValidationError("\(error)")
    }
    return spec
}
