import Foundation
import Hummingbird
import JobEngine
import JobModel
import JobStoring
import NIOCore

/// The routes that hold a request open: wait for jobs, join queues, follow a job's log, the
/// event stream. Each ends when its condition holds, at its timeout, when the client goes away
/// (the request is then dropped without an answer), or when the daemon shuts down
/// (`503 shutting_down`).
enum LongRoutes {
    static func add(to router: Router<APIContext>, _ environment: JobAPI.Environment) {
        let engine = environment.engine
        let store = environment.store
        router.post("v1/wait") { request, context -> Response in
            let body = try await decodeBody(WaitRequest.self, request, limit: environment.limits.maxBodyBytes)
            guard !body.ids.isEmpty, body.ids.count <= 10_000 else { throw APIError.invalid("ids: give 1 to 10000 job ids") }
            let timeout = try body.timeout()
            // Another user's job, when each sees their own, is not_found as an unknown id is.
            if environment.ownJobsOnly {
                for id in Set(body.ids) { _ = try await JobRoutes.visibleJob(id, request, context, environment) }
            }
            let current = { () async throws -> [Job] in
                var jobs: [Job] = []
                for id in body.ids { jobs.append(try await JobRoutes.job(id, in: store)) }
                return jobs
            }
            // Timeout 0 looks once; otherwise the engine's wait looks first itself (unknown ids
            // are refused, jobs already done answer at once).
            if timeout == .zero {
                let jobs = try await current()
                return try WaitResponse(done: jobs.allSatisfy(\.state.isTerminal), jobs: jobs).response(from: request, context: context)
            }
            let outcome = try await environment.longRequests.during {
                try await race(context.connection?.ended, timeout: timeout) { try await storeCall { try await engine.wait(for: body.ids) } }
            }
            switch outcome {
            case .done(let jobs):
                return try WaitResponse(done: true, jobs: jobs).response(from: request, context: context)
            case .timedOut:
                return try WaitResponse(done: false, jobs: try await current()).response(from: request, context: context)
            }
        }
        let join: @Sendable (Request, APIContext, String?) async throws -> Response = { request, context, queue in
            let body = try await decodeBody(JoinRequest.self, request, limit: environment.limits.maxBodyBytes)
            let timeout = try body.timeout()
            let views = { try await QueueInfo.all(environment).filter { queue == nil || $0.name == queue } }
            // Timeout 0 looks once; otherwise the engine's join looks first itself.
            if timeout == .zero {
                let now = try await views()
                return try JoinResponse(done: now.allSatisfy { $0.live == 0 }, queue: queue, queues: now).response(from: request, context: context)
            }
            let outcome = try await environment.longRequests.during {
                try await race(context.connection?.ended, timeout: timeout) { try await storeCall { try await engine.join(queue: queue) } }
            }
            let done: Bool
            if case .done = outcome { done = true } else { done = false }
            return try JoinResponse(done: done, queue: queue, queues: try await views()).response(from: request, context: context)
        }
        router.post("v1/join") { request, context in try await join(request, context, nil) }
        router.post("v1/queues/:name/join") { request, context in
            try await join(request, context, try JobRoutes.queueName(context.parameters.get("name") ?? ""))
        }
        router.get("v1/jobs/:id/logs") { request, context -> Response in
            let id = try JobRoutes.jobID(context)
            let query = request.uri.queryParameters
            let stream = query["stream"].map(String.init) ?? "out"
            guard ["out", "err", "both"].contains(stream) else { throw APIError.invalid("stream: '\(stream)' is not out, err or both") }
            let follow: Bool
            switch query["follow"].map(String.init) {
            case nil, "false", "0": follow = false
            case "true", "1": follow = true
            case let other?: throw APIError.invalid("follow: '\(other)' is not true or false")
            }
            let lines = try query["tail"].map { text -> Int in
                guard let lines = Int(text), (0...Int(Int32.max)).contains(lines) else {
                    throw APIError.invalid("tail: '\(text)' is not a number of lines from 0 to \(Int32.max)")
                }
                return lines
            }
            let run = try query["attempt"].map { text -> Int in
                guard let run = Int(text), (1...Int(Int32.max)).contains(run) else {
                    throw APIError.invalid("attempt: '\(text)' is not a run's number (1 to \(Int32.max))")
                }
                return run
            }
            let job = try await JobRoutes.visibleJob(id, request, context, environment)
            if let run, run > job.runs {
                throw APIError(.notFound, code: "not_found", message: "job \(id) has run \(job.runs) time\(job.runs == 1 ? "" : "s"): there is no attempt \(run)")
            }
            // An earlier run's output is complete, so it is never followed.
            let follows = follow && (run.map { $0 >= job.runs } ?? true)
            if let output = environment.storedOutput {
                // The store keeps every node's output: the run's, whichever node ran it (its
                // first when it has not run yet).
                let chosen = run ?? max(job.runs, 1)
                let streams: [UInt8] = stream == "both" ? [1, 2] : stream == "out" ? [1] : [2]
                return logResponse(follow: follows, lines: lines, context: context, environment) {
                    StoredLogTail(output: output, job: id, run: chosen, streams: streams)
                }
            }
            // `both`: the file of both streams in the order they were read, beside stdout's.
            let file = stream == "both" ? "log" : stream
            let latest = stream == "both"
                ? job.stdoutPath.flatMap(Job.combinedLogPath(besideStdout:)) ?? "\(environment.logDirectory)/\(id).log"
                : (stream == "out" ? job.stdoutPath : job.stderrPath) ?? "\(environment.logDirectory)/\(id).\(stream)"
            var path = latest
            if let run, run != job.runs {
                path = Job.logPath(directory: (latest as NSString).deletingLastPathComponent, id: id, run: run, stream: file)
            }
            let chosen = path
            return logResponse(follow: follows, lines: lines, context: context, environment) { LogTail(path: chosen, job: id) }
        }
        router.get("v1/events") { request, context -> Response in
            let queue = try request.uri.queryParameters["queue"].map { try JobRoutes.queueName(String($0)) }
            let every = try request.uri.queryParameters["every"].map { text -> Duration in
                guard let seconds = Double(text), seconds >= 0.1, seconds <= 60 else {
                    throw APIError.invalid("every: '\(text)' is not a number of seconds from 0.1 to 60")
                }
                return .milliseconds(Int64(seconds * 1000))
            }
            // Each sees the events of their own jobs, when jobs run as their submitters.
            let submitter = JobRoutes.visibleSubmitter(request, context, environment)
            let ended = context.connection?.ended
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-store"
            if let every {
                let stream = SummaryStream(engine: engine, queue: queue, submitter: submitter, every: every, ended: ended)
                return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                    try await environment.longRequests.during { try await stream.run(&writer) }
                })
            }
            let events = engine.events()
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                let encoder = JSONEncoder()
                encoder.outputFormatting = .sortedKeys
                try await writer.write(ByteBuffer(string: ": jobqd events\n\n"))
                let (merged, sink) = AsyncStream<EngineEvent>.makeStream()
                try await environment.longRequests.during { try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await event in events where queue == nil || event.job.spec.queue == queue {
                            guard let submitter else { continue }
                            if let submitter, event.job.spec.submitterUID != submitter { continue }
                            sink.yield(event)
                        }
                        sink.finish()
                    }
                    if let ended {
                        group.addTask {
                            _ = await ConnectionWatch.wait(for: ended)
                            sink.finish()
                        }
                    }
                    defer { group.cancelAll() }
                    for await event in merged {
                        var buffer = ByteBuffer(string: "event: \(event.name)\nid: \(event.job.id)\ndata: ")
                        buffer.writeBytes(try encoder.encode(event.job))
                        buffer.writeString("\n\n")
                        try await writer.write(buffer)
                    }
                } }
                try await writer.finish(nil)
            })
        }
    }

    /// A log follow that ended before its job: the connection closes without the body's end.
    struct FollowCut: Error {}

    /// A job's log as `text/plain`: from its last `lines` lines when asked, then, with `follow`,
    /// streamed until the job is terminal and every byte is sent. `makeTail` makes the reader
    /// (a file of this host's, or the store's) inside the body's task.
    static func logResponse(
        follow: Bool, lines: Int?, context: APIContext, _ environment: JobAPI.Environment,
        makeTail: @escaping @Sendable () -> any LogReader
    ) -> Response {
        let ended = context.connection?.ended
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            let tail = makeTail()
            if let lines { try await tail.skipToLast(lines: lines) }
            if !follow {
                while let chunk = try await tail.read() { try await writer.write(chunk) }
                try await writer.finish(nil)
                return
            }
            let whole = try await environment.longRequests.during {
                try await tail.follow(engine: environment.engine, store: environment.store, until: ended) { chunk in
                    try await writer.write(chunk)
                }
            }
            // Cut short by a shutdown (or a client that left): the body is not ended, so
            // that the client sees an incomplete answer, not the end of the job's output.
            guard whole else { throw FollowCut() }
            try await writer.finish(nil)
        })
    }


    enum Outcome<T: Sendable>: Sendable {
        case done(T)
        case timedOut
    }

    /// Runs `body` until it returns, `timeout` passes, or the connection ends (client gone:
    /// `CancellationError`, the request is dropped; shutdown: `503 shutting_down`).
    static func race<T: Sendable>(
        _ ended: EventLoopFuture<ConnectionEnd>?, timeout: Duration?, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> Outcome<T> {
        return try await withThrowingTaskGroup(of: Outcome<T>.self) { group in
            group.addTask { .done(try await body()) }
            if let timeout {
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return .timedOut
                }
            }
            if let ended {
                group.addTask { try await endOfConnection(ended) }
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// Throws when the connection ends; never returns.
    static func endOfConnection<T>(_ ended: EventLoopFuture<ConnectionEnd>) async throws -> T {
        switch await ConnectionWatch.wait(for: ended) {
        case .clientLeft, nil: throw CancellationError()
        case .shuttingDown: throw APIError(.serviceUnavailable, code: "shutting_down", message: "the daemon is shutting down")
        }
    }
}

extension EngineEvent {
    /// The SSE event name.
    var name: String {
        switch self {
        case .submitted: "submitted"
        case .started: "started"
        case .requeued: "requeued"
        case .finished: "finished"
        }
    }
}

extension WaitRequest: TimeoutBody {}
extension JoinRequest: TimeoutBody {}

/// A timeout in seconds, optional: absent means until the condition holds or the client leaves.
protocol TimeoutBody {
    var timeoutSeconds: Double? { get }
}

extension TimeoutBody {
    func timeout() throws -> Duration? {
        guard let seconds = timeoutSeconds else { return nil }
        guard seconds.isFinite, seconds >= 0, seconds <= 31_536_000 else {
            throw APIError.invalid("timeout_seconds: must be a number of seconds from 0 to 31536000")
        }
        return .milliseconds(Int64(seconds * 1000))
    }
}
