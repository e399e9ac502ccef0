import Foundation
import Hummingbird
import JobEngine
import JobModel

/// The queue routes: list, show, pause, resume, concurrency.
enum QueueRoutes {
    static func add(to router: Router<APIContext>, _ environment: JobAPI.Environment) {
        let engine = environment.engine
        router.get("v1/queues") { _, _ in QueueList(queues: try await QueueInfo.all(environment)) }
        router.get("v1/queues/:name") { _, context -> QueueInfo in
            try await view(try name(context), environment, mustExist: true)
        }
        router.post("v1/queues/:name/pause") { request, context -> QueueInfo in
            let queue = try name(context)
            try await JobRoutes.authorizeAdministration(request, context, environment, "pausing a queue")
            try await engine.pause(queue)
            return try await view(queue, environment)
        }
        router.post("v1/queues/:name/resume") { request, context -> QueueInfo in
            let queue = try name(context)
            try await JobRoutes.authorizeAdministration(request, context, environment, "resuming a queue")
            try await engine.resume(queue)
            return try await view(queue, environment)
        }
        router.put("v1/queues/:name/concurrency") { request, context -> QueueInfo in
            let queue = try name(context)
            try await JobRoutes.authorizeAdministration(request, context, environment, "changing a queue's concurrency")
            let body = try await decodeBody(ConcurrencyRequest.self, request, limit: environment.limits.maxBodyBytes)
            if await engine.queueStatus().first(where: { $0.name == queue })?.servesConsumers == true {
                throw APIError(.conflict, code: "wrong_queue_kind",
                               message: "queue '\(queue)' is served by consumers (its jobs carry payloads): it has no workers to set")
            }
            guard (1...1024).contains(body.concurrency) else { throw APIError.invalid("concurrency: must be a whole number from 1 to 1024") }
            try await storeCall { try await engine.setConcurrency(queue, body.concurrency) }
            return try await view(queue, environment)
        }
    }

    static func name(_ context: APIContext) throws -> String {
        try JobRoutes.queueName(context.parameters.get("name") ?? "")
    }

    static func view(_ name: String, _ environment: JobAPI.Environment, mustExist: Bool = false) async throws -> QueueInfo {
        if let queue = try await QueueInfo.all(environment).first(where: { $0.name == name }) { return queue }
        if mustExist { throw APIError(.notFound, code: "not_found", message: "no queue '\(name)': it has no jobs and no workers") }
        throw APIError.internal("queue '\(name)' vanished")
    }
}
