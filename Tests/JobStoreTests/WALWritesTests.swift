import JobModel
import JobQueueTesting
@testable import JobStore
import Testing

/// The writer's WAL goes through the jobq-wal-writes VFS (Sources/CWALWrites): SQLite's writes of
/// a transaction's frames reach the kernel as one write, at its commit frame.
@Suite("WAL writes", .timeLimit(.minutes(1)))
struct WALWritesTests {
    @Test("Each commit reaches the WAL in one write call (SQLite alone makes two per page: 14 for one job)")
    func oneWritePerCommit() async throws {
        try await withStore { store, _ async throws in
            _ = try await store.add(spec())  // the WAL's header, written and synced once
            let before = store.statistics
            for index in 0..<20 { _ = try await store.add(spec("job-\(index)")) }
            #expect(try await store.claim(queue: "default", limit: 3).count == 3)  // unsynced (NORMAL)
            let after = store.statistics
            #expect(after.transactions - before.transactions == 21)
            #expect(before.walWrites > 0)
            #expect(after.walWrites - before.walWrites == 21)
        }
    }

    @Test("What a commit wrote is read at once through another connection, with and without an fsync per commit", arguments: [StoreConfiguration.Durability.full, .normal])
    func commitsAreVisibleToOtherConnections(durability: StoreConfiguration.Durability) async throws {
        try await withStore(durability: durability) { store, _ async throws in
            let other = try SQLiteConnection(path: store.path, readOnly: true)
            func count(_ state: String) throws -> String? {
                try other.pragmaText("SELECT count(*) FROM jobs WHERE state = '\(state)'")
            }
            for index in 1...30 {
                _ = try await store.add(spec("job-\(index)"))
                #expect(try count("queued") == "\(index)")
            }
            for claimed in 1...5 {
                #expect(try await store.claim(queue: "default").count == 1)
                #expect(try count("running") == "\(claimed)")
            }
        }
    }

    @Test("A transaction larger than what the VFS holds (4 MiB) or writes at once (120 KiB) is written in parts and reads back whole")
    func largeTransaction() async throws {
        try await withStore { store, _ async throws in
            let argument = String(repeating: "x", count: 2000)
            let specs = (0..<3000).map { JobSpec(command: .argv(["echo", "\($0)", argument]), queue: "big") }
            let before = store.statistics
            let submitted = try await store.insert(specs)
            let after = store.statistics
            #expect(after.walWrites - before.walWrites > 1)
            let other = try SQLiteConnection(path: store.path, readOnly: true)
            #expect(try other.pragmaText("SELECT count(*) FROM jobs WHERE queue = 'big'") == "3000")
            #expect(try other.pragmaText("PRAGMA integrity_check") == "ok")
            let last = try #require(submitted.last)
            #expect(try await store.job(last.job.id)?.spec.command == .argv(["echo", "2999", argument]))
        }
    }
}
