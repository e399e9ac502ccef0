import JobModel
import JobQueueTesting
@testable import JobStore
import JobStoring
import Testing

@Suite("Group commit", .timeLimit(.minutes(1)))
struct GroupCommitTests {
    @Test("Inserts that queue while a commit is in flight commit together, and each caller sees its rows")
    func writesQueuedDuringACommitShareTheNextTransaction() async throws {
        try await withStore { store, _ async throws in
            _ = try await store.add(spec())
            let before = store.statistics
            let ids = try await store.withWriterHeld(untilPending: 50) {
                try await withThrowingTaskGroup(of: JobID.self) { group in
                    for index in 0..<50 {
                        group.addTask { try await store.add(spec("job-\(index)")).id }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            let after = store.statistics
            #expect(after.transactions - before.transactions == 2)  // the held one, then all 50
            #expect(after.operations - before.operations == 51)
            #expect(after.largestGroup == 50)
            #expect(Set(ids).count == 50)
            for id in ids { #expect(try await store.job(id) != nil) }
        }
    }

    @Test("A transaction of claims alone commits without an fsync (synchronous=NORMAL); any other write in it, or a store opened for normal durability, decides as usual")
    func claimsCommitWithoutTheirOwnSync() async throws {
        /// The writer's `PRAGMA synchronous` inside a write that does or does not ask for a sync
        /// (2 is FULL, 1 NORMAL).
        func synchronous(_ store: JobStore, synced: Bool) async throws -> String? {
            try await store.write(synced: synced) { context throws(JobStoreError) in
                do throws(SQLiteError) {
                    return try context.connection.pragmaText("PRAGMA synchronous")
                } catch {
                    throw .storage(error)
                }
            }
        }
        try await withStore { store, _ async throws in
            #expect(try await synchronous(store, synced: false) == "1")
            #expect(try await synchronous(store, synced: true) == "2")
            _ = try await store.add(spec())
            let before = store.statistics.unsyncedTransactions
            #expect(try await store.claim(queue: "default").count == 1)
            #expect(store.statistics.unsyncedTransactions == before + 1)
            #expect(try await synchronous(store, synced: true) == "2")
            // Grouped with a write that needs an fsync, a claim still commits first, on its own,
            // without one: a worker slot must not wait for another caller's fsync.
            _ = try await store.add(spec())
            let (claimed, added) = try await store.withWriterHeld(untilPending: 2) {
                async let claimed = store.claim(queue: "default")
                async let added = store.add(spec("other"))
                return try await (claimed, added)
            }
            #expect(claimed.count == 1 && added.spec.queue == "default")
            #expect(store.statistics.unsyncedTransactions == before + 2)
        }
        try await withStore(durability: .normal) { store, _ async throws in
            #expect(try await synchronous(store, synced: true) == "1")
            #expect(try await synchronous(store, synced: false) == "1")
        }
    }

    @Test("One caller's failing write in a group rolls back only its own changes")
    func failureIsolatedToItsCaller() async throws {
        try await withStore { store, _ async throws in
            let outcomes = try await store.withWriterHeld(untilPending: 10) {
                await withTaskGroup(of: (Int, Result<[JobID], JobStoreError>).self) { group in
                    for index in 0..<10 {
                        group.addTask {
                            var good = spec("good-\(index)")
                            if index == 4 { good.after = [987_654] }  // fails inside the transaction
                            do throws(JobStoreError) {
                                return (index, .success(try await store.insert([spec("first-\(index)"), good]).map(\.job.id)))
                            } catch {
                                return (index, .failure(error))
                            }
                        }
                    }
                    return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
                }
            }
            #expect(store.statistics.largestGroup == 10)
            for (index, outcome) in outcomes {
                switch outcome {
                case .success(let ids):
                    #expect(index != 4)
                    for id in ids { #expect(try await store.job(id) != nil) }
                case .failure(let error):
                    #expect(index == 4)
                    #expect(error == .dependencyNotFound(index: 1, 987_654))
                }
            }
            let stored = try await store.jobs(limit: 100).jobs
            #expect(stored.count == 18)
            #expect(!stored.contains { $0.spec.command == .argv(["first-4"]) })
        }
    }

    @Test("Many concurrent inserters: every returned id is present after reopening the database")
    func concurrentInsertersAreDurable() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = StoreConfiguration(path: directory + "/jobs.db", logDirectory: directory)
            let store = try await JobStore.openQuietly(configuration)
            let ids = try await withThrowingTaskGroup(of: [JobID].self) { group in
                for inserter in 0..<64 {
                    group.addTask {
                        var mine: [JobID] = []
                        for round in 0..<10 {
                            let size = round % 4 == 0 ? 5 : 1
                            mine += try await store.insert((0..<size).map { _ in spec("i\(inserter)") }).map(\.job.id)
                        }
                        return mine
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            let statistics = store.statistics
            await store.close()
            #expect(ids.count == 64 * (3 * 5 + 7))
            #expect(Set(ids).count == ids.count)
            #expect(statistics.operations == 640)

            let reopened = try await JobStore.openQuietly(configuration)
            #expect(try await reopened.allJobIDs() == Set(ids))
            #expect(try await reopened.integrityCheck() == ["ok"])
            await reopened.close()
        }
    }

    @Test("A queue's pause is recorded durably: it is there after reopening, and resume removes it")
    func pausedQueuesAreDurable() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = StoreConfiguration(path: directory + "/jobs.db", logDirectory: directory)
            let store = try await JobStore.openQuietly(configuration)
            #expect(try await store.pausedQueues() == [])
            try await store.setPaused("nightly", true)
            try await store.setPaused("build", true)
            try await store.setPaused("build", true)  // again: no change, no error
            try await store.setPaused("other", false)  // never paused: nothing to remove
            await store.close()
            let reopened = try await JobStore.openQuietly(configuration)
            #expect(try await reopened.pausedQueues() == ["build", "nightly"])
            try await reopened.setPaused("build", false)
            #expect(try await reopened.pausedQueues() == ["nightly"])
            await reopened.close()
        }
    }

    @Test("A closed store refuses writes and reads with .closed")
    func closedStore() async throws {
        try await withTemporaryDirectory { directory in
            let store = try await JobStore.openQuietly(StoreConfiguration(path: directory + "/jobs.db", logDirectory: directory))
            await store.close()
            await expectStoreError(.closed) { try await store.insert([spec()]) }
            await expectStoreError(.closed) { try await store.job(1) }
        }
    }
}
