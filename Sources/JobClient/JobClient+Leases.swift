import JobModel
import NIOHTTP1

/// The consumers' calls (docs/consumers.md): put payload jobs, lease them, and heartbeat,
/// complete, fail or release each by its lease's token.
extension JobClient {
    /// Stores a payload job in `queue` (a payload queue, or a new one) and returns its id.
    public func put(_ payload: JSONValue, queue: String, priority: Int = 0, retry: RetryPolicy = .none) async throws -> JobID {
        var spec = JobSpec(command: .payload(payload), queue: queue, priority: priority)
        spec.retry = retry
        return try await submit(spec).jobs[0].id
    }

    /// Leases up to `max` jobs of `queue` for `leaseSeconds`, waiting up to `waitSeconds` (at
    /// most 30) for one; perhaps none.
    public func lease(
        queue: String, max: Int = 1, waitSeconds: Double = 0, leaseSeconds: Double = LeaseRequest.defaultLeaseSeconds,
        consumer: String? = nil
    ) async throws -> [Job] {
        try await lease(queue: queue, max: max, waitSeconds: waitSeconds, leaseSeconds: leaseSeconds, consumer: consumer,
                        completing: []).jobs
    }

    /// ``lease(queue:max:waitSeconds:leaseSeconds:consumer:)`` that first completes the leases
    /// in `completing` (one request for a consumer's "done, next"); the answer says how each went.
    public func lease(
        queue: String, max: Int = 1, waitSeconds: Double = 0, leaseSeconds: Double = LeaseRequest.defaultLeaseSeconds,
        consumer: String? = nil, completing: [CompleteManyRequest.Item]
    ) async throws -> LeaseResponse {
        try await call(.POST, "/v1/queues/\(Self.encode(queue))/lease",
                       body: LeaseRequest(max: max, waitSeconds: waitSeconds, leaseSeconds: leaseSeconds, consumer: consumer,
                                          complete: completing.isEmpty ? nil : completing),
                       as: LeaseResponse.self)
    }

    /// Extends the lease to `leaseSeconds` from now; refused with `lease_lost` once it is no
    /// longer held (which is how a cancel reaches the consumer).
    public func heartbeat(_ token: LeaseToken, leaseSeconds: Double = LeaseRequest.defaultLeaseSeconds) async throws -> Job {
        try await call(.POST, "/v1/leases/\(token)/heartbeat", body: HeartbeatRequest(leaseSeconds: leaseSeconds), as: Job.self)
    }

    /// The job succeeded, with an optional result kept with it.
    public func complete(_ token: LeaseToken, result: JSONValue? = nil) async throws -> Job {
        try await call(.POST, "/v1/leases/\(token)/complete", body: CompleteRequest(result: result), as: Job.self)
    }

    /// Completes many leases in one transaction; one outcome per lease, in order.
    public func complete(_ items: [CompleteManyRequest.Item]) async throws -> [CompleteManyResponse.Outcome] {
        try await call(.POST, "/v1/leases/complete", body: CompleteManyRequest(leases: items), as: CompleteManyResponse.self).results
    }

    /// The attempt failed: retried per the job's policy, or failed when its attempts are spent.
    public func fail(_ token: LeaseToken, error: String) async throws -> Job {
        try await call(.POST, "/v1/leases/\(token)/fail", body: FailRequest(error: error), as: Job.self)
    }

    /// Back to the queue, leased again no sooner than `delaySeconds`; the attempt does not count.
    public func release(_ token: LeaseToken, delaySeconds: Double = 0) async throws -> Job {
        try await call(.POST, "/v1/leases/\(token)/release", body: ReleaseRequest(delaySeconds: delaySeconds), as: Job.self)
    }
}
