import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JobAPI
import JobEngine
import JobModel
import JobQueueTesting
import JobRunner
import JobStore
import JobStoring
import Logging
import NIOCore
import ServiceLifecycleTestKit
import Testing

/// The caller's uid for the route tests comes from this header: the route tests' requests do
/// not come through a socket (the daemon reads `SO_PEERCRED`; see ``PeerResolver/socket``).
let uidHeader = HTTPField.Name("x-test-uid")!
let daemonUID: UInt32 = 1000

let testPeers = PeerResolver { _, request in
    request.headers[uidHeader].flatMap(UInt32.init).map { PeerCredentials(pid: 1, uid: $0, gid: $0) }
}

/// A store, an engine running real commands, and the API's router in front of them.
struct APIFixture: Sendable {
    let store: JobStore
    let engine: JobEngine
    let directory: String
}

func withAPI<T: Sendable>(
    maxBodyBytes: Int = 1 << 20,
    busyTimeout: Duration = .seconds(5),
    ownJobsOnly: Bool = false,
    adminGroup: UInt32? = nil,
    _ body: @escaping @Sendable (any TestClientProtocol, APIFixture) async throws -> T
) async throws -> T {
    try await withEngine(maxBodyBytes: maxBodyBytes, busyTimeout: busyTimeout, ownJobsOnly: ownJobsOnly, adminGroup: adminGroup) { environment, fixture in
        let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let app = Application(router: JobAPI.router(environment), logger: quiet)
        return try await app.test(.router) { client in try await body(client, fixture) }
    }
}

/// A store and an engine running real commands, and the API's environment over them (callers
/// identified by `peers`), for as long as `body` runs.
func withEngine<T: Sendable>(
    maxBodyBytes: Int = 1 << 20,
    busyTimeout: Duration = .seconds(5),
    ownJobsOnly: Bool = false,
    adminGroup: UInt32? = nil,
    peers: PeerResolver = testPeers,
    _ body: @escaping @Sendable (JobAPI.Environment, APIFixture) async throws -> T
) async throws -> T {
    let directory = try makeTemporaryDirectory("jobq-api")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    let logs = directory + "/logs"
    try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
    let store = try await JobStore.open(
        StoreConfiguration(path: directory + "/jobs.db", logDirectory: logs, busyTimeout: busyTimeout), logger: quiet)
    let executor = ProcessJobExecutor(
        configuration: ProcessExecutorConfiguration(logDirectory: logs, workingDirectory: directory),
        launcher: testLauncher, logger: quiet)
    var configuration = EngineConfiguration(defaultConcurrency: 2, drainGrace: .zero)
    configuration.daemonUID = daemonUID
    let engine = JobEngine(store: store, executor: executor, configuration: configuration, logger: quiet)
    var environment = JobAPI.Environment(
        engine: engine, store: store, logDirectory: logs, limits: APILimits(maxBodyBytes: maxBodyBytes), peers: peers)
    environment.ownJobsOnly = ownJobsOnly
    environment.adminGroup = adminGroup
    let fixture = APIFixture(store: store, engine: engine, directory: directory)
    let result = try await testGracefulShutdown { trigger in
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await engine.run()
                return nil
            }
            try await engine.untilStarted()
            do {
                let result = try await body(environment, fixture)
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
                return result
            } catch {
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
                throw error
            }
        }
    }
    await store.close()
    return result
}

/// Sends a request as `uid` (1000, the daemon's user, unless given) with a JSON body.
@discardableResult
func send(
    _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ path: String, json: String? = nil, uid: UInt32? = daemonUID
) async throws -> TestResponse {
    var headers = HTTPFields()
    if let uid { headers[uidHeader] = "\(uid)" }
    if json != nil { headers[.contentType] = "application/json" }
    return try await client.execute(uri: path, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
}

/// Decodes a response body.
func decode<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(response.body.readableBytesView))
}

/// Checks an error answer: its status and its stable code.
func expectError(_ response: TestResponse, _ status: HTTPResponse.Status, _ code: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(response.status == status, sourceLocation: sourceLocation)
    let error = try decode(ErrorResponse.self, response)
    #expect(error.error.code == code, "\(error.error.message)", sourceLocation: sourceLocation)
    #expect(!error.error.message.isEmpty, sourceLocation: sourceLocation)
}

/// Submits one spec (JSON text) and returns the job as stored.
func submit(_ client: any TestClientProtocol, _ json: String, uid: UInt32 = daemonUID) async throws -> Job {
    let response = try await send(client, .post, "/v1/jobs", json: json, uid: uid)
    #expect(response.status == .created)
    let id = try decode(SubmitResponse.self, response).jobs[0].id
    return try decode(Job.self, try await send(client, .get, "/v1/jobs/\(id)"))
}

/// Waits (through the API) until the job is terminal.
func finished(_ client: any TestClientProtocol, _ id: JobID) async throws -> Job {
    let response = try await send(client, .post, "/v1/wait", json: #"{"ids":[\#(id)]}"#)
    let result = try decode(WaitResponse.self, response)
    #expect(result.done)
    return result.jobs[0]
}

/// Every job in the store (through the API).
func allJobs(_ client: any TestClientProtocol) async throws -> [Job] {
    try decode(JobListResponse.self, try await send(client, .get, "/v1/jobs?limit=1000")).jobs
}
