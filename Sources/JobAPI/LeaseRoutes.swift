import Foundation
import Hummingbird
import JobEngine
import JobModel
import JobStoring

/// The consumers' routes (docs/consumers.md): lease jobs of a payload queue (long polling up to
/// 30 s), then heartbeat, complete, fail or release each by its lease's token. A token that no
/// longer names the job's lease is refused with `409 lease_lost`.
enum LeaseRoutes {
    static func add(to router: Router<APIContext>, _ environment: JobAPI.Environment) {
        let engine = environment.engine
        let limit = environment.limits.maxBodyBytes
        router.post("v1/queues/:name/lease") { request, context -> LeaseResponse in
            let queue = try QueueRoutes.name(context)
            let bytes = try await collectBody(request, limit: limit)
            let body = try BodyReader.leaseRequest(bytes.readableBytesView) ?? decodeJSON(LeaseRequest.self, bytes)
            do {
                try body.validate()
            } catch {
                throw APIError.invalid("\(error)")
            }
            let consumer = body.consumer ?? environment.peers.resolve(context, request).map { "pid \($0.pid) (uid \($0.uid))" } ?? "anonymous"
            // The leases the consumer finished are completed (durably) in the same transaction as
            // the first look for more.
            let items = body.complete ?? []
            let lease = { @Sendable () async throws -> LeaseResponse in
                let outcome = try await storeCall {
                    try await engine.lease(queue: queue, max: body.max, wait: .seconds(body.waitSeconds),
                                           for: .seconds(body.leaseSeconds), consumer: consumer,
                                           completing: items.map { ($0.token, $0.result) })
                }
                return LeaseResponse(jobs: outcome.jobs, completed: items.isEmpty ? nil : outcomes(items, outcome.completed))
            }
            if body.waitSeconds == 0 { return try await lease() }
            let outcome = try await environment.longRequests.during {
                try await LongRoutes.race(context.connection?.ended, timeout: nil, lease)
            }
            guard case .done(let answer) = outcome else { return LeaseResponse(jobs: []) }
            return answer
        }
        router.post("v1/leases/complete") { request, _ -> CompleteManyResponse in
            let body = try await decodeBody(CompleteManyRequest.self, request, limit: limit)
            return CompleteManyResponse(results: try await completeMany(body.leases, engine))
        }
        router.post("v1/leases/:token/heartbeat") { request, context -> Job in
            let token = try token(context)
            let body = try await decodeBody(HeartbeatRequest.self, request, limit: limit)
            return try await storeCall { try await engine.heartbeat(token, for: .seconds(body.leaseSeconds)) }
        }
        router.post("v1/leases/:token/complete") { request, context -> Job in
            let token = try token(context)
            let body = try await decodeBody(CompleteRequest.self, request, limit: limit)
            return try await storeCall { try await engine.complete(token, result: body.result) }
        }
        router.post("v1/leases/:token/fail") { request, context -> Job in
            let token = try token(context)
            let body = try await decodeBody(FailRequest.self, request, limit: limit)
            return try await storeCall { try await engine.fail(token, reason: body.error) }
        }
        router.post("v1/leases/:token/release") { request, context -> Job in
            let token = try token(context)
            let body = try await decodeBody(ReleaseRequest.self, request, limit: limit)
            return try await storeCall { try await engine.release(token, delay: .seconds(body.delaySeconds)) }
        }
    }

    /// Completes many leases in one transaction; one outcome per lease, in order.
    static func completeMany(_ items: [CompleteManyRequest.Item], _ engine: JobEngine) async throws -> [CompleteManyResponse.Outcome] {
        outcomes(items, try await storeCall { try await engine.complete(items.map { ($0.token, $0.result) }) })
    }

    /// Each completion's outcome as the API gives it.
    static func outcomes(_ items: [CompleteManyRequest.Item], _ results: [Result<Job, JobStoreError>]) -> [CompleteManyResponse.Outcome] {
        zip(items, results).map { item, outcome in
            switch outcome {
            case .success(let job): CompleteManyResponse.Outcome(token: item.token, state: job.state)
            case .failure(let error): CompleteManyResponse.Outcome(token: item.token, error: .init(code: error.code, message: error.description))
            }
        }
    }

    static func token(_ context: APIContext) throws -> LeaseToken {
        let text = context.parameters.get("token") ?? ""
        guard let token = LeaseToken(text) else {
            throw APIError.invalid("'\(text)' is not a lease token (JOB.RUN, as a lease answer gives it)")
        }
        return token
    }
}
