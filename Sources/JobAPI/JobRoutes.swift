import Foundation
import Hummingbird
import JobEngine
import JobModel
import JobStore

/// The job routes: submit, show, list, cancel, retry.
enum JobRoutes {
    /// The largest request body accepted.
    static let maxBody = 1 << 20

    static func add(to router: Router<BasicRequestContext>, engine: JobEngine, store: JobStore) {
        router.post("v1/jobs") { request, _ -> EditedResponse<Submitted> in
            let specs = try await decodeSubmit(request)
            let submitted = try await storeCall { try await engine.submit(specs) }
            let body = Submitted(jobs: submitted.map { .init(id: $0.job.id, created: $0.created, job: $0.job) })
            return EditedResponse(status: submitted.contains { $0.created } ? .created : .ok, response: body)
        }
        router.get("v1/jobs/:id") { _, context -> Job in
            let id = try jobID(context)
            guard let job = try await storeCall({ try await store.job(id) }) else {
                throw APIError(.notFound, code: "not_found", message: "no job \(id)")
            }
            return job
        }
        router.get("v1/jobs") { request, _ -> JobList in
            let query = request.uri.queryParameters
            var filter = JobFilter()
            if let states = query["state"] {
                var set: Set<JobState> = []
                for name in states.split(separator: ",") {
                    guard let state = JobState(rawValue: String(name)) else {
                        throw APIError(.badRequest, code: "invalid_request",
                                       message: "state: '\(name)' is not one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    set.insert(state)
                }
                filter.states = set
            }
            filter.queue = query["queue"].map(String.init)
            filter.label = query["label"].map(String.init)
            let cursor = try query["after"].map { text in
                guard let id = JobID(text) else {
                    throw APIError(.badRequest, code: "invalid_request", message: "after: '\(text)' is not a job id")
                }
                return id
            }
            let limit = try query["limit"].map { text in
                guard let value = Int(text), (1...1000).contains(value) else {
                    throw APIError(.badRequest, code: "invalid_request", message: "limit: must be a whole number from 1 to 1000")
                }
                return value
            } ?? 100
            let order: ListOrder
            switch query["order"].map(String.init) {
            case nil, "asc": order = .ascending
            case "desc": order = .descending
            case let other?: throw APIError(.badRequest, code: "invalid_request", message: "order: '\(other)' is not asc or desc")
            }
            let page = try await storeCall { try await store.jobs(matching: filter, after: cursor, limit: limit, order: order) }
            return JobList(jobs: page.jobs, nextCursor: page.nextCursor)
        }
        router.post("v1/jobs/:id/cancel") { _, context -> Job in
            let id = try jobID(context)
            return try await storeCall { try await engine.cancel(id, reason: "cancelled through the API") }.job
        }
        router.post("v1/jobs/:id/retry") { _, context -> Job in
            let id = try jobID(context)
            return try await storeCall { try await engine.retry(id) }
        }
    }

    static func jobID(_ context: BasicRequestContext) throws -> JobID {
        let text = context.parameters.get("id") ?? ""
        guard let id = JobID(text) else {
            throw APIError(.badRequest, code: "invalid_request", message: "'\(text)' is not a job id")
        }
        return id
    }

    /// Runs a store or engine call, turning its errors into API errors with their stable codes.
    static func storeCall<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as JobStoreError {
            let status: HTTPResponse.Status = switch error.code {
            case "invalid_request": .badRequest
            case "not_found": .notFound
            case "conflict": .conflict
            case "storage_error", "storage_full": HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
            case "shutting_down": .serviceUnavailable
            default: .internalServerError
            }
            throw APIError(status, code: error.code, message: error.description)
        }
    }

    /// One spec, or `{"jobs": [spec, …]}`; bodies over 1 MiB and malformed JSON are refused
    /// with a message saying where.
    static func decodeSubmit(_ request: Request) async throws -> [JobSpec] {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBody)
        } catch {
            throw APIError(.contentTooLarge, code: "payload_too_large", message: "the request body is over \(maxBody) bytes")
        }
        let data = Data(buffer.readableBytesView)
        do {
            let body = try JSONDecoder().decode(SubmitBody.self, from: data)
            guard !body.specs.isEmpty else {
                throw APIError(.badRequest, code: "invalid_request", message: "jobs: the batch is empty")
            }
            return body.specs
        } catch let error as DecodingError {
            throw APIError(.badRequest, code: "invalid_request", message: describe(error))
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let joined = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return joined.isEmpty ? "body" : joined
        }
        switch error {
        case .dataCorrupted(let context): return "\(path(context)): \(context.debugDescription)"
        case .keyNotFound(let key, let context): return "\(path(context)): missing '\(key.stringValue)' (\(context.debugDescription))"
        case .typeMismatch(let type, let context): return "\(path(context)): expected \(type)"
        case .valueNotFound(let type, let context): return "\(path(context)): expected \(type), found null"
        @unknown default: return "invalid JSON"
        }
    }
}

/// `{"jobs": [...]}` or a single spec.
struct SubmitBody: Decodable {
    var specs: [JobSpec]

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        if container.contains(Key(stringValue: "jobs")) {
            if let other = container.allKeys.first(where: { $0.stringValue != "jobs" }) {
                throw DecodingError.dataCorrupted(.init(codingPath: [other], debugDescription: "a batch holds only 'jobs'"))
            }
            specs = try container.decode([JobSpec].self, forKey: Key(stringValue: "jobs"))
        } else {
            specs = [try JobSpec(from: decoder)]
        }
    }
}

/// The answer to a submit.
struct Submitted: ResponseEncodable {
    struct Item: Encodable {
        var id: JobID
        var created: Bool
        var job: Job
    }

    var jobs: [Item]
}

/// A page of jobs.
struct JobList: ResponseEncodable {
    var jobs: [Job]
    var nextCursor: JobID?

    enum CodingKeys: String, CodingKey {
        case jobs
        case nextCursor = "next_cursor"
    }
}

extension Job: ResponseEncodable {}
