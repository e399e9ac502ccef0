import Foundation
import JobModel
import JobQueueTesting
@testable import JobStore
import JobStoring
import Testing

@Suite("Locks and missing files", .timeLimit(.minutes(1)))
struct LockingTests {
    @Test("A write lock held by another connection past the busy timeout fails the write cleanly; it works once released")
    func lockedDatabase() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/jobs.db"
            let store = try await JobStore.openQuietly(
                StoreConfiguration(path: path, logDirectory: directory, busyTimeout: .milliseconds(50)))
            let before = try await store.add(spec())

            // Another process's connection (a backup tool, sqlite3 by hand) takes the write lock.
            let other = try SQLiteConnection(path: path)
            try other.execute("BEGIN IMMEDIATE")
            do {
                _ = try await store.insert([spec(), spec()])
                Issue.record("the insert succeeded while another connection held the write lock")
            } catch let error as JobStoreError {
                guard case .storage(let sqlite) = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(sqlite.isBusy)
                #expect(error.code == "storage_error")
                #expect(error.description.hasPrefix("the database is locked by another process (longer than the busy timeout), nothing was written"))
            }
            // Reads go on meanwhile (WAL).
            #expect(try await store.jobs().jobs.map(\.id) == [before.id])
            try other.execute("ROLLBACK")

            let after = try await store.add(spec())
            #expect(try await store.jobs().jobs.map(\.id) == [before.id, after.id])
            await store.close()
        }
    }

    @Test("A database in a directory that does not exist is refused with the path in the message")
    func missingDirectory() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/no/such/dir/jobs.db"
            do throws(JobStoreError) {
                _ = try await JobStore.openQuietly(StoreConfiguration(path: path, logDirectory: directory))
                Issue.record("opened a database in a missing directory")
            } catch {
                #expect(error.code == "storage_error")
                #expect(error.description.contains(path))
            }
            #expect(!FileManager.default.fileExists(atPath: path))
        }
    }
}
