import Dispatch
import Foundation
import JobBasics
import JobModel
import JobQueueTesting
import Logging
@testable import JobStore
import JobStoring

import Testing

/// A clock the test moves by hand.
final class TestClock: Sendable {
    private let milliseconds: Locked<Int64>

    init(_ start: Timestamp = Timestamp(millisecondsSinceEpoch: 1_800_000_000_000)) {
        milliseconds = Locked(start.millisecondsSinceEpoch)
    }

    var now: Timestamp { Timestamp(millisecondsSinceEpoch: milliseconds.withLock { $0 }) }

    func advance(by duration: Duration) {
        milliseconds.withLock { $0 += duration.wholeMilliseconds }
    }

    var function: @Sendable () -> Timestamp { { self.now } }
}

/// A store on a fresh database in a temporary directory, closed and removed after `body`.
func withStore<T>(
    clock: TestClock = TestClock(),
    durability: StoreConfiguration.Durability = .full,
    _ body: (JobStore, TestClock) async throws -> T
) async throws -> T {
    try await withTemporaryDirectory { directory in
        let store = try await JobStore.openQuietly(
            StoreConfiguration(path: directory + "/jobs.db", logDirectory: directory + "/logs", durability: durability),
            clock: clock.function)
        do {
            let result = try await body(store, clock)
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
        }
    }
}

func spec(_ name: String = "true", queue: String = "default", priority: Int = 0) -> JobSpec {
    JobSpec(command: .argv([name]), queue: queue, priority: priority)
}

extension JobStore {
    /// Inserts one spec and returns its job.
    func add(_ spec: JobSpec) async throws -> Job {
        try await insert([spec])[0].job
    }

    /// Every job id in the store, read page by page.
    func allJobIDs() async throws -> Set<JobID> {
        var ids: Set<JobID> = []
        var cursor: JobID?
        repeat {
            let page = try await jobs(after: cursor, limit: 5000)
            ids.formUnion(page.jobs.map(\.id))
            cursor = page.nextCursor
        } while cursor != nil
        return ids
    }

    /// The job, which must exist.
    func existing(_ id: JobID) async throws -> Job {
        try #require(try await job(id))
    }
}

/// Runs `body`, expecting it to throw exactly `expected`.
func expectStoreError<T>(
    _ expected: JobStoreError, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> T
) async {
    do {
        _ = try await body()
        Issue.record("expected \(expected), got success", sourceLocation: sourceLocation)
    } catch let error as JobStoreError {
        #expect(error == expected, sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected \(expected), got \(error)", sourceLocation: sourceLocation)
    }
}

extension JobStore {
    /// `open` with a logger that prints nothing, so that test output stays readable.
    static func openQuietly(
        _ configuration: StoreConfiguration,
        clock: @escaping @Sendable () -> Timestamp = { Timestamp.now() },
        migrations: [EmbeddedMigration] = EmbeddedMigration.sqlite
    ) async throws(JobStoreError) -> JobStore {
        try await open(
            configuration, clock: clock, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            migrations: migrations)
    }
}
