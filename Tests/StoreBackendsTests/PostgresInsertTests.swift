import JobModel
import JobQueueTesting
import JobStorePostgres
import JobStoring
import Testing

@Suite("PostgreSQL store: inserts and reads", .postgresCluster, .timeLimit(.minutes(2)))
struct PostgresInsertTests {
    static let now = Timestamp(millisecondsSinceEpoch: 1_700_000_000_000)

    func spec(_ name: String = "true", queue: String = "default", priority: Int = 0, label: String? = nil,
              submitter: UInt32? = nil, key: String? = nil, after: [JobID] = []) -> JobSpec {
        JobSpec(command: .argv([name]), queue: queue, priority: priority, after: after, idempotencyKey: key,
                label: label, submitterUID: submitter)
    }

    @Test("A batch is stored in order with ascending ids, and reads back field for field")
    func batchRoundTrip() async throws {
        try await withTestDatabase { configuration in
            try await withStore(configuration, clock: { Self.now }) { store in
                let specs = (0..<100).map { index in
                    JobSpec(command: .argv(["echo", "\(index)"]), env: ["N": "\(index)"], queue: index % 2 == 0 ? "even" : "odd",
                            priority: index % 3, runAt: Timestamp(millisecondsSinceEpoch: Self.now.millisecondsSinceEpoch + Int64(index)),
                            label: index % 5 == 0 ? "fives" : nil, submitterUID: index % 7 == 0 ? 1000 : nil)
                }
                let submitted = try await store.insert(specs)
                #expect(submitted.map(\.job.spec) == specs)
                #expect(submitted.allSatisfy { $0.created })
                let ids = submitted.map(\.job.id.rawValue)
                #expect(ids == ids.sorted() && Set(ids).count == 100)
                for entry in submitted {
                    let read = try #require(try await store.job(entry.job.id))
                    #expect(read == entry.job)
                }
                #expect(try await store.job(JobID(999_999)) == nil)
            }
        }
    }

    @Test("A live job's idempotency key answers that job, in the database or earlier in the batch")
    func idempotencyKeys() async throws {
        try await withTestDatabase { configuration in
            try await withStore(configuration) { store in
                let first = try await store.insert([spec(key: "nightly")])[0]
                #expect(first.created)
                let again = try await store.insert([spec("other", key: "nightly"), spec(key: "fresh"), spec(key: "fresh")])
                #expect(again[0].created == false && again[0].job.id == first.job.id)
                #expect(again[1].created && again[2].created == false && again[2].job.id == again[1].job.id)
                #expect(try await store.counts().first?[.queued] == 2)
            }
        }
    }

    @Test("Dependencies: blocked while pending, failed at once after a failed one, refused when missing")
    func dependencies() async throws {
        try await withTestDatabase { configuration in
            try await withStore(configuration) { store in
                let parent = try await store.insert([spec()])[0].job
                let child = try await store.insert([spec(after: [parent.id, parent.id])])[0].job
                #expect(child.state == .blocked)
                await #expect(throws: JobStoreError.dependencyNotFound(index: 1, JobID(424_242))) {
                    try await store.insert([spec(), spec(after: [JobID(424_242)])])
                }
                // Nothing of the refused batch was stored.
                #expect(try await store.jobs().jobs.map(\.id) == [parent.id, child.id])
            }
        }
    }

    @Test("A payload job in a queue of commands, or the reverse, is refused and stores nothing")
    func queueKinds() async throws {
        try await withTestDatabase { configuration in
            try await withStore(configuration) { store in
                _ = try await store.insert([spec(queue: "builds")])
                let payload = JobSpec(command: .payload(.object(["to": .string("a@b")])), queue: "builds")
                await #expect(throws: JobStoreError.wrongQueueKind(index: nil, queue: "builds", payloadQueue: false)) {
                    try await store.insert([payload])
                }
                let mail = JobSpec(command: .payload(.string("hi")), queue: "mail")
                _ = try await store.insert([mail])
                #expect(try await store.payloadQueues() == ["mail"])
                await #expect(throws: JobStoreError.wrongQueueKind(index: 1, queue: "mail", payloadQueue: true)) {
                    try await store.insert([mail, spec(queue: "mail")])
                }
                #expect(try await store.jobs().jobs.count == 2)
            }
        }
    }

    @Test("A queue's kind from a refused batch is not kept: another node may give the queue the other kind")
    func refusedBatchKindNotKept() async throws {
        try await withTestDatabase { configuration in
            try await withStore(configuration, node: "a") { first in
                try await withStore(configuration, node: "b") { second in
                    await #expect(throws: JobStoreError.dependencyNotFound(index: 1, JobID(424_242))) {
                        try await first.insert([spec(queue: "fresh"), spec(queue: "fresh", after: [JobID(424_242)])])
                    }
                    _ = try await second.insert([JobSpec(command: .payload(.string("hi")), queue: "fresh")])
                    await #expect(throws: JobStoreError.wrongQueueKind(index: nil, queue: "fresh", payloadQueue: true)) {
                        try await first.insert([spec(queue: "fresh")])
                    }
                    #expect(try await first.jobs().jobs.count == 1)
                }
            }
        }
    }

    @Test("An invalid spec is refused before anything is written")
    func invalidSpec() async throws {
        try await withTestDatabase { configuration in
            try await withStore(configuration) { store in
                await #expect {
                    try await store.insert([spec(), spec(label: "")])
                } throws: { error in
                    guard case .invalidSpec(index: 1, _) = error as? JobStoreError else { return false }
                    return true
                }
                let stored = try await store.jobs()
                #expect(stored.jobs.isEmpty)
            }
        }
    }

    @Test("Listings filter by state, queue, label and submitter, page by cursor both ways")
    func listings() async throws {
        try await withTestDatabase { configuration in
            try await withStore(configuration) { store in
                var specs: [JobSpec] = []
                for index in 0..<30 {
                    specs.append(spec(queue: index % 3 == 0 ? "a" : "b", label: index % 2 == 0 ? "even" : nil,
                                      submitter: index < 10 ? 1000 : 2000))
                }
                let ids = try await store.insert(specs).map(\.job.id)
                var seen: [JobID] = []
                var cursor: JobID?
                repeat {
                    let page = try await store.jobs(after: cursor, limit: 7)
                    seen += page.jobs.map(\.id)
                    cursor = page.nextCursor
                } while cursor != nil
                #expect(seen == ids)
                let newest = try await store.jobs(limit: 3, order: .descending)
                #expect(newest.jobs.map(\.id) == Array(ids.suffix(3).reversed()) && newest.nextCursor == ids[27])
                let older = try await store.jobs(after: newest.nextCursor, limit: 2, order: .descending)
                #expect(older.jobs.map(\.id) == [ids[26], ids[25]])
                #expect(try await store.jobs(matching: JobFilter(queue: "a"), limit: 100).jobs.count == 10)
                #expect(try await store.jobs(matching: JobFilter(label: "even"), limit: 100).jobs.count == 15)
                #expect(try await store.jobs(matching: JobFilter(submitter: 1000), limit: 100).jobs.map(\.id) == Array(ids.prefix(10)))
                #expect(try await store.jobs(matching: JobFilter(states: [.running]), limit: 100).jobs.isEmpty)
                #expect(try await store.jobs(matching: JobFilter(states: []), limit: 100).jobs.isEmpty)
                #expect(try await store.jobs(matching: JobFilter(states: [.queued, .running], queue: "b", label: "even"), limit: 100)
                    .jobs.count == 10)
            }
        }
    }

    @Test("Counts are the sum of every node's: two nodes inserting into one queue")
    func countsAcrossNodes() async throws {
        try await withTestDatabase { configuration in
            try await withStore(configuration, node: "a") { first in
                try await withStore(configuration, node: "b") { second in
                    async let one = first.insert((0..<50).map { _ in spec(queue: "shared") })
                    async let two = second.insert((0..<70).map { _ in spec(queue: "shared") } + [spec(queue: "own")])
                    _ = try await (one, two)
                    let counts = try await first.counts()
                    #expect(counts.map(\.queue) == ["own", "shared"])
                    #expect(counts[1][.queued] == 120 && counts[0][.queued] == 1)
                    #expect(try await second.counts() == counts)
                }
            }
        }
    }
}
