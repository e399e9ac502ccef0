import Foundation
import JobModel
import JobQueueTesting
@testable import JobStore
import JobStoring
import Testing

@Suite("Insert", .timeLimit(.minutes(1)))
struct InsertTests {
    @Test("An inserted job reads back as submitted, queued, with increasing ids")
    func insertAndRead() async throws {
        try await withStore { store, clock async throws in
            var full = JobSpec(command: .shell("echo hi | wc -c"), cwd: "/tmp", env: ["A": "1"], queue: "q1", priority: 3)
            full.timeout = .seconds(5)
            full.retry = RetryPolicy(maxAttempts: 3)
            full.label = "lbl"
            full.submitterUID = 1000
            let submitted = try await store.insert([full, spec()])
            #expect(submitted.map(\.created) == [true, true])
            #expect(submitted[1].job.id.rawValue == submitted[0].job.id.rawValue + 1)
            let job = try await store.existing(submitted[0].job.id)
            #expect(job == submitted[0].job)
            #expect(job.spec == full)
            #expect(job.state == .queued)
            #expect(job.attempts == 0)
            #expect(job.createdAt == clock.now)
            #expect(job.runAt == clock.now)
        }
    }

    @Test("A large batch mixing plain, keyed and dependent specs is stored in order, each job as returned",
          arguments: [1, 63, 64, 65, 200])
    func mixedBatchesKeepOrder(plainRun: Int) async throws {
        try await withStore { store, clock async throws in
            let first = try await store.insert([spec("before")])[0].job
            var specs: [JobSpec] = []
            for index in 0..<plainRun {
                var plain = spec("plain-\(index)", queue: index % 3 == 0 ? "q3" : "default", priority: index % 5)
                plain.label = index % 2 == 0 ? "even" : nil
                plain.submitterUID = UInt32(index)
                plain.retry = RetryPolicy(maxAttempts: 1 + index % 4)
                if index % 7 == 0 { plain.runAt = Timestamp(millisecondsSinceEpoch: clock.now.millisecondsSinceEpoch + 60_000) }
                specs.append(plain)
            }
            var keyed = spec("keyed")
            keyed.idempotencyKey = "k"
            var dependent = spec("dependent")
            dependent.after = [first.id]
            // plain run, a keyed spec, the same key again, a dependent one, another plain run
            specs += [keyed, keyed, dependent] + specs.prefix(plainRun)
            let submitted = try await store.insert(specs)
            #expect(submitted.count == specs.count)
            #expect(submitted.map(\.created) == Array(repeating: true, count: plainRun) + [true, false, true]
                + Array(repeating: true, count: plainRun))
            // Ids follow the specs: consecutive after `first`, the repeated key naming the keyed job.
            let createdIDs = submitted.filter(\.created).map(\.job.id.rawValue)
            #expect(createdIDs == Array((first.id.rawValue + 1)...(first.id.rawValue + Int64(createdIDs.count))))
            #expect(submitted[plainRun + 1].job.id == submitted[plainRun].job.id)
            for (index, item) in submitted.enumerated() where item.created {
                #expect(item.job.spec == specs[index])
                let stored = try await store.existing(item.job.id)
                #expect(stored == item.job, "job \(item.job.id), spec \(index)")
            }
            #expect(submitted[plainRun + 2].job.state == .blocked)
            let counts = Dictionary(uniqueKeysWithValues: try await store.counts().map { ($0.queue, $0.counts) })
            let plainInQ3 = (0..<plainRun).filter { $0 % 3 == 0 }.count * 2
            #expect(counts["q3"] == [.queued: plainInQ3])
            #expect(counts["default"] == [.queued: 1 + (2 * plainRun - plainInQ3) + 1, .blocked: 1])
        }
    }

    @Test("The database file is private to the daemon's user, in WAL mode with synchronous=FULL")
    func fileModeAndPragmas() async throws {
        try await withStore { store, _ async throws in
            let attributes = try FileManager.default.attributesOfItem(atPath: store.path)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            _ = try await store.add(spec())
            let (mode, synchronous, foreignKeys) = try await store.write { context throws(JobStoreError) in
                do throws(SQLiteError) {
                    return (try context.connection.pragmaText("PRAGMA journal_mode"),
                            try context.connection.pragmaText("PRAGMA synchronous"),
                            try context.connection.pragmaText("PRAGMA foreign_keys"))
                } catch { throw .storage(error) }
            }
            #expect(mode == "wal")
            #expect(synchronous == "2")  // FULL
            #expect(foreignKeys == "1")
        }
        try await withStore(durability: .normal) { store, _ async throws in
            let synchronous = try await store.write { context throws(JobStoreError) in
                do throws(SQLiteError) { return try context.connection.pragmaText("PRAGMA synchronous") } catch { throw .storage(error) }
            }
            #expect(synchronous == "1")  // NORMAL
        }
    }

    @Test("A batch with one invalid spec stores nothing and names the spec")
    func invalidBatchIsAllOrNothing() async throws {
        try await withStore { store, _ async throws in
            await expectStoreError(.invalidSpec(index: 1, .invalidField("queue", "must be 1 to 64 characters from A-Z a-z 0-9 . _ - and not start with . or -"))) {
                try await store.insert([spec(), spec(queue: "bad queue"), spec()])
            }
            #expect(try await store.jobs().jobs.isEmpty)
            #expect(try await store.counts().isEmpty)
        }
    }

    @Test("A batch that runs after a missing job stores nothing, even the specs before it")
    func missingDependencyIsAllOrNothing() async throws {
        try await withStore { store, _ async throws in
            var dependent = spec()
            dependent.after = [999]
            await expectStoreError(.dependencyNotFound(index: 2, 999)) {
                try await store.insert([spec(), spec(), dependent])
            }
            #expect(try await store.jobs().jobs.isEmpty)
            // Ids of the rolled-back rows are not handed out as acknowledged.
            let next = try await store.add(spec())
            #expect(try await store.jobs().jobs.map(\.id) == [next.id])
        }
    }

    @Test("An idempotency key held by a live job returns that job, in the store or the same batch")
    func idempotencyKeys() async throws {
        try await withStore { store, _ async throws in
            var keyed = spec("first")
            keyed.idempotencyKey = "nightly"
            let first = try await store.insert([keyed])[0]
            #expect(first.created)
            var again = spec("second")
            again.idempotencyKey = "nightly"
            let repeated = try await store.insert([again, again])
            #expect(repeated.map(\.created) == [false, false])
            #expect(repeated.map(\.job.id) == [first.job.id, first.job.id])
            #expect(repeated[0].job.spec.command == .argv(["first"]))
            #expect(try await store.jobs().jobs.count == 1)

            var fresh = spec()
            fresh.idempotencyKey = "other"
            let pair = try await store.insert([fresh, fresh])
            #expect(pair.map(\.created) == [true, false])
            #expect(pair[0].job.id == pair[1].job.id)

            // Once the job is finished, the key is free again.
            let claimed = try await store.claim(queue: "default", limit: 10)
            #expect(claimed.count == 2)
            _ = try await store.finish(first.job.id, .succeeded)
            let later = try await store.insert([again])[0]
            #expect(later.created)
            #expect(later.job.id != first.job.id)
        }
    }

    @Test("A job that runs after unfinished jobs is blocked; after succeeded ones it is queued")
    func insertWithDependencies() async throws {
        try await withStore { store, _ async throws in
            let a = try await store.add(spec())
            let b = try await store.add(spec())
            _ = try await store.claim(queue: "default", limit: 1)
            _ = try await store.finish(a.id, .succeeded)
            var afterA = spec()
            afterA.after = [a.id]
            var afterBoth = spec()
            afterBoth.after = [a.id, b.id, b.id]
            let jobs = try await store.insert([afterA, afterBoth]).map(\.job)
            #expect(jobs.map(\.state) == [.queued, .blocked])
            #expect(try await store.existing(jobs[1].id).state == .blocked)
        }
    }
}
