import JobModel
import JobQueueTesting
import JobStoring
import Testing

/// Fair share the same on every backend: round-robin across submitters, and the cap.
@Suite("Store backends: fair share", .postgresCluster, .timeLimit(.minutes(2)))
struct StoreFairnessTests {
    @Test("Round-robin serves each submitter in turn, whoever submitted more", arguments: StoreBackend.allCases)
    func roundRobin(backend: StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            for _ in 0..<4 { _ = try await store.add(spec("alice", submitter: 1001)) }
            let bob = try await store.add(spec("bob", submitter: 1002))
            let order = try await store.claim(limit: 1, policy: ClaimPolicy()).jobs + store.claim(limit: 1, policy: ClaimPolicy()).jobs
            #expect(order.map(\.spec.submitterUID) == [1001, 1002])
            #expect(order[1].id == bob.id)
            let rest = try await store.claim(limit: 10, policy: ClaimPolicy()).jobs
            #expect(rest.count == 3 && rest.allSatisfy { $0.spec.submitterUID == 1001 })
        }
    }

    @Test("The cap leaves a submitter's jobs queued while it has that many running, and says so", arguments: StoreBackend.allCases)
    func cap(backend: StoreBackend) async throws {
        try await withStore(backend) { store, clock in
            for _ in 0..<3 { _ = try await store.add(spec("alice", submitter: 1001)) }
            _ = try await store.add(spec("bob", submitter: 1002))
            let policy = ClaimPolicy(fairness: .fifo, maxRunningPerUser: 1)
            let claimed = try await store.claim(limit: 4, policy: policy)
            #expect(claimed.jobs.compactMap(\.spec.submitterUID).sorted() == [1001, 1002])
            #expect(claimed.passedOverAt == clock.now && claimed.more == false)
            let alice = try #require(claimed.jobs.first { $0.spec.submitterUID == 1001 })
            _ = try await store.finish(alice.id, .succeeded)
            #expect(try await store.claim(limit: 4, policy: policy).jobs.map(\.spec.submitterUID) == [1001])
        }
    }

    @Test("Jobs of no submitter take turns as one submitter; a lone submitter's jobs go by priority, and more says what is left",
          arguments: StoreBackend.allCases)
    func noSubmitterAndLoneSubmitter(backend: StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            for _ in 0..<2 { _ = try await store.add(spec("anonymous")) }
            _ = try await store.add(spec("carol", submitter: 1003))
            let first = try await store.claim(limit: 2, policy: ClaimPolicy())
            #expect(Set(first.jobs.map(\.spec.submitterUID)) == [nil, 1003])
            #expect(first.more)
            let last = try await store.claim(limit: 2, policy: ClaimPolicy())
            #expect(last.jobs.map(\.spec.submitterUID) == [nil])
            #expect(!last.more)

            let low = try await store.add(spec("low", submitter: 1004))
            let high = try await store.add(spec("high", priority: 5, submitter: 1004))
            let lone = try await store.claim(limit: 1, policy: ClaimPolicy())
            #expect(lone.jobs.map(\.id) == [high.id])
            #expect(lone.more)
            let rest = try await store.claim(limit: 1, policy: ClaimPolicy())
            #expect(rest.jobs.map(\.id) == [low.id])
            #expect(!rest.more)
        }
    }
}
