import Foundation
import Hummingbird
import JobBasics
import JobEngine
import JobModel
import JobStoring

/// The job routes: submit, show, list, cancel, retry, prune.
enum JobRoutes {
    static func add(to router: Router<APIContext>, _ environment: JobAPI.Environment) {
        let engine = environment.engine
        let store = environment.store
        router.post("v1/jobs") { request, context -> Response in
            // Reached when ``SubmitHandler`` passed the request on (it arrived while an earlier
            // request of its connection was being answered), and by the route tests.
            let plain = request.headers[.accept] == "text/plain"
            do {
                var specs = try SubmitAnswer.specs(of: try await collectBody(request, limit: environment.limits.maxBodyBytes))
                // The kernel's word on who submits, not the body's.
                let peer = environment.peers.resolve(context, request)
                for index in specs.indices { specs[index].submitterUID = peer?.uid }
                let submitted = try await storeCall { try await engine.submit(specs) }
                return try SubmitAnswer.submitted(submitted, plain: plain).response
            } catch let error as APIError where plain {
                return SubmitAnswer.refused(error, plain: true).response
            }
        }
        router.get("v1/jobs/:id") { request, context -> Job in
            try await visibleJob(jobID(context), request, context, environment)
        }
        router.get("v1/jobs/:id/runs") { request, context -> RunHistory in
            let id = try jobID(context)
            _ = try await visibleJob(id, request, context, environment)
            guard let runs = try await storeCall({ try await store.runHistory(of: id) }) else {
                throw APIError(.notFound, code: "not_found", message: "no job \(id)")
            }
            return RunHistory(runs: runs)
        }
        router.get("v1/jobs") { request, context -> JobListResponse in
            let query = request.uri.queryParameters
            var filter = JobFilter()
            if let states = query["state"] {
                var set: Set<JobState> = []
                for name in states.split(separator: ",") {
                    guard let state = JobState(rawValue: String(name)) else {
                        throw APIError.invalid("state: '\(name)' is not one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    set.insert(state)
                }
                filter.states = set
            }
            filter.queue = try query["queue"].map { try queueName(String($0)) }
            filter.label = query["label"].map(String.init)
            filter.commandContains = try query["command"].map { text in
                guard (1...256).contains(text.count) else { throw APIError.invalid("command: give 1 to 256 characters of text to look for") }
                return String(text)
            }
            filter.runsAfter = try query["runs_after"].map { text in
                guard let id = JobID(text) else { throw APIError.invalid("runs_after: '\(text)' is not a job id") }
                return id
            }
            let cursor = try query["after"].map { text in
                guard let id = JobID(text) else { throw APIError.invalid("after: '\(text)' is not a job id") }
                return id
            }
            let limit = try query["limit"].map { text in
                guard let value = Int(text), (1...1000).contains(value) else {
                    throw APIError.invalid("limit: must be a whole number from 1 to 1000")
                }
                return value
            } ?? 100
            let order: ListOrder
            switch query["order"].map(String.init) {
            case nil, "asc": order = .ascending
            case "desc": order = .descending
            case let other?: throw APIError.invalid("order: '\(other)' is not asc or desc")
            }
            // `user`: one user's jobs (a name or a uid; a name the system does not know has
            // none); with ownJobsOnly, only an administrator may name another than the caller.
            if let user = query["user"].map(String.init) {
                guard let uid = environment.engine.uid(ofUser: user) else {
                    return JobListResponse(jobs: [], nextCursor: nil)
                }
                filter.submitter = uid
            }
            switch visibleSubmitter(request, context, environment) {
            case .none:
                return JobListResponse(jobs: [], nextCursor: nil)
            case .some(.some(let own)):
                if let asked = filter.submitter, asked != own { return JobListResponse(jobs: [], nextCursor: nil) }
                filter.submitter = own
            case .some(.none):
                break
            }
            let page = try await storeCall { try await store.jobs(matching: filter, after: cursor, limit: limit, order: order) }
            return JobListResponse(jobs: page.jobs, nextCursor: page.nextCursor)
        }
        router.post("v1/jobs/:id/cancel") { request, context -> Job in
            let id = try jobID(context)
            let current = try await job(id, in: store)
            let uid = try await authorize(request, context, environment, toChange: current, "cancel")
            // Asked twice, a cancel is done: the job as it is, not a refusal.
            if current.state == .cancelled { return current }
            let via = request.headers[.userAgent]?.hasPrefix("jobq/") == true ? "jobq cancel" : "the API"
            return try await storeCall { try await engine.cancel(id, reason: "cancelled by uid \(uid) with \(via)") }.job
        }
        router.post("v1/jobs/:id/retry") { request, context -> Job in
            let id = try jobID(context)
            try await authorize(request, context, environment, toChange: job(id, in: store), "retry")
            return try await storeCall { try await engine.retry(id) }
        }
        router.put("v1/jobs/:id/priority") { request, context -> Job in
            let id = try jobID(context)
            try await authorize(request, context, environment, toChange: job(id, in: store), "change the priority of")
            let body = try await decodeBody(PriorityRequest.self, request, limit: environment.limits.maxBodyBytes)
            return try await storeCall { try await store.setPriority(id, body.priority) }
        }
        router.post("v1/prune") { request, context -> PruneResponse in
            try await authorizeAdministration(request, context, environment, "prune")
            let body = try await decodeBody(PruneRequest.self, request, limit: environment.limits.maxBodyBytes)
            guard body.olderThanSeconds.isFinite, body.olderThanSeconds >= 0 else {
                throw APIError.invalid("older_than_seconds: must be a number of seconds, 0 or more")
            }
            // An age past the epoch (1e300 s is a valid number) prunes nothing; Int64 would trap.
            let now = Timestamp.now().millisecondsSinceEpoch
            let age = min(body.olderThanSeconds * 1000, Double(now))
            let cutoff = Timestamp(millisecondsSinceEpoch: now - Int64(age))
            // Each batch's output files are unlinked off the event loop (thousands of unlinks
            // would hold up its connections).
            let count = try await storeCall {
                try await store.prune(finishedBefore: cutoff, batchSize: 1000) { batch in
                    let paths = batch.flatMap(\.outputPaths)
                    await OffLoop.run { for path in paths { unlink(path) } }
                }
            }
            return PruneResponse(pruned: count)
        }
    }

    static func job(_ id: JobID, in store: any JobStoring) async throws -> Job {
        guard let job = try await storeCall({ try await store.job(id) }) else {
            throw APIError(.notFound, code: "not_found", message: "no job \(id)")
        }
        return job
    }

    static func jobID(_ context: APIContext) throws -> JobID {
        let text = context.parameters.get("id") ?? ""
        guard let id = JobID(text) else { throw APIError.invalid("'\(text)' is not a job id") }
        return id
    }

    static func queueName(_ name: String) throws -> String {
        guard JobSpec.isValidQueueName(name) else {
            throw APIError.invalid("queue: '\(name)' must be 1 to \(JobSpec.Limits.queueName) characters from A-Z a-z 0-9 . _ - and not start with . or -")
        }
        return name
    }

    /// Cancel and retry: the job's submitter, the daemon's user, root and the admin group.
    /// Returns the caller's uid. With ``JobAPI/Environment/ownJobsOnly``, another user's job
    /// is `not_found`, as if it did not exist.
    @discardableResult
    static func authorize(
        _ request: Request, _ context: APIContext, _ environment: JobAPI.Environment, toChange job: Job, _ action: String
    ) async throws -> UInt32 {
        let peer = environment.peers.resolve(context, request)
        guard let uid = peer?.uid else {
            throw APIError(.forbidden, code: "forbidden", message: "cannot \(action) job \(job.id): the caller's identity is unknown")
        }
        if uid == job.spec.submitterUID || isAdministrator(uid, environment) { return uid }
        if environment.ownJobsOnly { throw APIError(.notFound, code: "not_found", message: "no job \(job.id)") }
        throw APIError(.forbidden, code: "forbidden",
                       message: "cannot \(action) job \(job.id): it belongs to uid \(job.spec.submitterUID.map(String.init) ?? "unknown"), "
                           + "and uid \(uid) is neither its submitter, the daemon's user nor root")
    }

    /// Pause, resume, concurrency and prune act on everyone's jobs: the daemon's user, root and
    /// the admin group.
    static func authorizeAdministration(
        _ request: Request, _ context: APIContext, _ environment: JobAPI.Environment, _ action: String
    ) async throws {
        let uid = environment.peers.resolve(context, request)?.uid
        if let uid, isAdministrator(uid, environment) { return }
        throw APIError(.forbidden, code: "forbidden",
                       message: "\(action) is for the daemon's user (uid \(environment.engine.daemonUID)), root"
                           + (environment.adminGroup.map { " and the members of group \($0)" } ?? "")
                           + "; the caller is uid \(uid.map(String.init) ?? "unknown")")
    }

    /// Root, the daemon's user, and the admin group's members.
    static func isAdministrator(_ uid: UInt32, _ environment: JobAPI.Environment) -> Bool {
        uid == 0 || uid == environment.engine.daemonUID || environment.adminGroup.map { environment.engine.isMember(uid, ofGroup: $0) } ?? false
    }

    /// Whose jobs the caller sees: nil for every job, else a uid (its own, with
    /// ``JobAPI/Environment/ownJobsOnly``; a caller whose identity is unknown sees none).
    static func visibleSubmitter(_ request: Request, _ context: APIContext, _ environment: JobAPI.Environment) -> UInt32?? {
        guard environment.ownJobsOnly else { return .some(nil) }
        guard let uid = environment.peers.resolve(context, request)?.uid else { return nil }
        return isAdministrator(uid, environment) ? .some(nil) : .some(uid)
    }

    /// Job `id` when the caller may see it; `not_found` otherwise, as for a job that does not exist.
    static func visibleJob(
        _ id: JobID, _ request: Request, _ context: APIContext, _ environment: JobAPI.Environment
    ) async throws -> Job {
        let job = try await job(id, in: environment.store)
        guard let submitter = visibleSubmitter(request, context, environment) else {
            throw APIError(.notFound, code: "not_found", message: "no job \(id)")
        }
        if let submitter, job.spec.submitterUID != submitter { throw APIError(.notFound, code: "not_found", message: "no job \(id)") }
        return job
    }
}

/// The request's body, at most `limit` bytes (`payload_too_large` past it).
func collectBody(_ request: Request, limit: Int) async throws -> ByteBuffer {
    do {
        return try await request.body.collect(upTo: limit)
    } catch {
        throw APIError(.contentTooLarge, code: "payload_too_large", message: "the request body is over \(limit) bytes")
    }
}

/// Decodes JSON; an empty body decodes as `{}`.
func decodeJSON<Body: Decodable>(_ type: Body.Type, _ buffer: ByteBuffer) throws -> Body {
    let data = buffer.readableBytes == 0 ? Data("{}".utf8) : Data(buffer.readableBytesView)
    do {
        return try JSONDecoder().decode(Body.self, from: data)
    } catch let error as DecodingError {
        throw APIError.invalid(describe(error))
    }
}

/// Reads a JSON body of at most `limit` bytes; an empty body decodes as `{}`.
func decodeBody<Body: Decodable>(_ type: Body.Type, _ request: Request, limit: Int) async throws -> Body {
    try decodeJSON(type, try await collectBody(request, limit: limit))
}

/// Runs a store or engine call, turning its errors into API errors with their stable codes.
func storeCall<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as JobStoreError {
        throw APIError(error)
    }
}

extension JobStoreError {
    /// The HTTP status of each store error.
    var httpStatus: HTTPResponse.Status {
        switch self {
        case .invalidSpec, .dependencyNotFound: .badRequest
        case .notFound: .notFound
        case .submitterRefused: .forbidden
        case .illegalTransition, .conflict, .leaseLost, .wrongQueueKind, .notAConsumerQueue: .conflict
        case .storage: HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
        case .migration, .notADatabase: .internalServerError
        case .closed: .serviceUnavailable
        }
    }
}

func describe(_ error: DecodingError) -> String {
    func path(_ context: DecodingError.Context) -> String {
        let joined = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        return joined.isEmpty ? "body" : joined
    }
    switch error {
    case .dataCorrupted(let context): return "\(path(context)): \(context.debugDescription)"
    case .keyNotFound(let key, let context):
        // Foundation's own text ("No value associated with key CodingKeys(...)") says nothing more
        let detail = context.debugDescription.hasPrefix("No value associated with key") ? "" : " (\(context.debugDescription))"
        return "\(path(context)): missing '\(key.stringValue)'\(detail)"
    case .typeMismatch(let type, let context): return "\(path(context)): expected \(type)"
    case .valueNotFound(let type, let context): return "\(path(context)): expected \(type), found null"
    @unknown default: return "invalid JSON"
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
