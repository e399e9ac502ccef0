import JobModel

/// The decisions every store makes the same way, whatever its SQL: what a new job's
/// dependencies make of it, why a lease is no longer held, pruning in batches.
public enum StoreRules {
    /// A new job's state from its dependencies' (each once, sorted; nil: no such job):
    /// `blocked` while some have not finished, `failed` at once after one that failed or was
    /// cancelled (naming the first), else `queued`. Throws for a dependency that does not exist.
    public static func newJob(
        after dependencies: [(JobID, JobState?)], index: Int?
    ) throws(JobStoreError) -> (state: JobState, pending: [JobID], error: String?) {
        var pending: [JobID] = []
        var failedDependency: (JobID, JobState)?
        for (dependency, state) in dependencies {
            guard let state else { throw .dependencyNotFound(index: index, dependency) }
            switch state {
            case .succeeded: continue
            case .failed, .cancelled: failedDependency = failedDependency ?? (dependency, state)
            case .queued, .blocked, .running: pending.append(dependency)
            }
        }
        if let (dependency, dependencyState) = failedDependency {
            let how = dependencyState == .failed ? "failed" : "was cancelled"
            return (.failed, pending, "job \(dependency), which this job runs after, \(how)")
        }
        return (pending.isEmpty ? .queued : .blocked, pending, nil)
    }

    /// Why lease `token` is not held, given its job as it is now (nil: no such job):
    /// ``JobStoreError/notFound(_:)``, or ``JobStoreError/leaseLost(_:_:)`` saying what became of it.
    public static func leaseRefusal(_ token: LeaseToken, job: Job?) -> JobStoreError {
        guard let job else { return .notFound(token.job) }
        if !job.spec.command.isPayload { return .leaseLost(token, "job \(job.id) runs a command, it has no lease") }
        if job.runs > token.run {
            return .leaseLost(token, "job \(job.id) was leased again (run \(job.runs)) after this lease ended")
        }
        if job.runs < token.run { return .leaseLost(token, "job \(job.id) has had no run \(token.run)") }
        switch job.state {
        case .running:
            let expiry = job.lease.map { " at \($0.expiresAt)" } ?? ""
            return .leaseLost(token, "the lease expired\(expiry); the attempt counts as failed")
        case .queued, .blocked:
            return .leaseLost(token, "the lease ended (released, expired or failed); job \(job.id) is \(job.state) again")
        case .cancelled:
            return .leaseLost(token, "job \(job.id) was cancelled\(job.error.map { " (\($0))" } ?? "")")
        case .succeeded, .failed:
            return .leaseLost(token, "job \(job.id) has already \(job.state)")
        }
    }

    /// Deletes finished jobs `batchSize` at a time through `batch` (each batch its own short
    /// transaction), handing each to `onBatch` before the next; answers how many were deleted.
    public static func prune(
        batchSize: Int, onBatch: ([PrunedJob]) async -> Void, batch: () async throws(JobStoreError) -> [PrunedJob]
    ) async throws(JobStoreError) -> Int {
        var total = 0
        while true {
            let pruned = try await batch()
            if pruned.isEmpty { return total }
            await onBatch(pruned)
            total += pruned.count
            if pruned.count < batchSize { return total }
        }
    }
}
