import Foundation
import JobBasics
import JobModel
import JobQueueTesting
import JobStore
import JobStorePostgres
import JobStoring
import Logging
import Testing

/// The store backends the shared suite runs against.
enum StoreBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgresql

    var testDescription: String { rawValue }
}

/// A clock the test moves by hand.
final class TestClock: Sendable {
    private let milliseconds = Locked<Int64>(1_800_000_000_000)

    var now: Timestamp { Timestamp(millisecondsSinceEpoch: milliseconds.withLock { $0 }) }

    func advance(by duration: Duration) {
        milliseconds.withLock { $0 += duration.wholeMilliseconds }
    }

    var function: @Sendable () -> Timestamp { { self.now } }
}

/// A store of `backend` on a new, empty database, with a manual clock, for `body`; closed and
/// removed afterwards. PostgreSQL's runs (its pool) for the body's length.
func withStore<T: Sendable>(
    _ backend: StoreBackend, clock: TestClock = TestClock(),
    _ body: @Sendable (any JobStoring, TestClock) async throws -> T
) async throws -> T {
    let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    switch backend {
    case .sqlite:
        return try await withTemporaryDirectory { directory in
            let store = try await JobStore.open(
                StoreConfiguration(path: directory + "/jobs.db", logDirectory: directory + "/logs"), clock: clock.function, logger: quiet)
            do {
                let result = try await body(store, clock)
                await store.close()
                return result
            } catch {
                await store.close()
                throw error
            }
        }
    case .postgresql:
        return try await withTestDatabase { configuration in
            try await withStore(configuration, node: "node-a", clock: clock.function) { store in try await body(store, clock) }
        }
    }
}

/// The hot path's operations awaited, as tests call them.
extension JobStoring {
    func insert(_ specs: [JobSpec]) async throws -> [SubmittedJob] {
        try await withCheckedThrowingContinuation { continuation in insert(specs) { continuation.resume(with: $0) } }
    }

    func add(_ spec: JobSpec) async throws -> Job {
        try await insert([spec])[0].job
    }

    func claim(_ queue: String = "default", limit: Int = 1, policy: ClaimPolicy = .fifo) async throws -> ClaimedJobs {
        try await withCheckedThrowingContinuation { continuation in
            claim(queue: queue, limit: limit, policy: policy) { continuation.resume(with: $0) }
        }
    }

    func nextRunAt(_ queue: String, after instant: Timestamp) async throws -> Timestamp? {
        try await withCheckedThrowingContinuation { continuation in
            nextRunAt(queue: queue, after: instant) { continuation.resume(with: $0) }
        }
    }

    func finish(_ id: JobID, _ completion: JobCompletion, usage: RunUsage? = nil) async throws -> FinishedJob {
        try await withCheckedThrowingContinuation { continuation in
            finish(id, completion, startedAt: nil, usage: usage, spec: nil, run: nil) { continuation.resume(with: $0) }
        }
    }

    func scheduleRetry(_ id: JobID, at runAt: Timestamp, exitCode: Int32?, reason: String) async throws -> Job {
        try await withCheckedThrowingContinuation { continuation in
            scheduleRetry(id, at: runAt, exitCode: exitCode, signal: nil, reason: reason, startedAt: nil, usage: nil, spec: nil, run: nil) {
                continuation.resume(with: $0)
            }
        }
    }

    func release(_ id: JobID) async throws -> Job {
        try await withCheckedThrowingContinuation { continuation in release(id, spec: nil, run: nil) { continuation.resume(with: $0) } }
    }

    func keepStoppedRun(of job: Job, _ end: JobCompletion, usage: RunUsage?) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            keepStoppedRun(of: job, end, usage: usage) { continuation.resume(with: $0) }
        }
    }

    func expireLeases() async throws -> ExpiredLeases {
        try await withCheckedThrowingContinuation { continuation in expireLeases { continuation.resume(with: $0) } }
    }

    func allJobs() async throws -> [Job] {
        try await jobs(matching: JobFilter(), after: nil, limit: 10_000, order: .ascending).jobs
    }
}

func spec(_ name: String = "true", queue: String = "default", priority: Int = 0, after: [JobID] = [],
          retry: RetryPolicy = .none, submitter: UInt32? = nil) -> JobSpec {
    JobSpec(command: .argv([name]), queue: queue, priority: priority, retry: retry, after: after, submitterUID: submitter)
}

func payload(_ text: String, queue: String = "mail", retry: RetryPolicy = .none) -> JobSpec {
    JobSpec(command: .payload(.string(text)), queue: queue, retry: retry)
}
