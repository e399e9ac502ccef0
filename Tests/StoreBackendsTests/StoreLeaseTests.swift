import JobModel
import JobQueueTesting
import JobStoring
import Testing

/// Leases the same on every backend: taking, extending, completing (twice), failing, releasing,
/// expiring, and the stale token's refusal.
@Suite("Store backends: leases", .postgresCluster, .timeLimit(.minutes(2)))
struct StoreLeaseTests {
    @Test("A lease takes ready payload jobs; heartbeat extends it; a completion is answered again, unchanged",
          arguments: StoreBackend.allCases)
    func leaseAndComplete(backend: StoreBackend) async throws {
        try await withStore(backend) { store, clock in
            let first = try await store.add(payload("a"))
            _ = try await store.add(payload("b"))
            let leased = try await store.lease(queue: "mail", limit: 1, for: .seconds(60), consumer: "w1", completing: [])
            let job = try #require(leased.jobs.first)
            #expect(job.id == first.id && job.lease?.consumer == "w1" && job.lease?.expiresAt == clock.now.advanced(by: .seconds(60)))
            let token = try #require(job.lease?.token)
            clock.advance(by: .seconds(30))
            let extended = try await store.heartbeat(token, for: .seconds(60))
            #expect(extended.lease?.expiresAt == clock.now.advanced(by: .seconds(60)))
            let done = try await store.complete(token, result: .object(["ok": .bool(true)]))
            #expect(done.repeated == false && done.finished.job.state == .succeeded && done.finished.job.result == .object(["ok": .bool(true)]))
            let again = try await store.complete(token, result: nil)
            #expect(again.repeated && again.finished.job.result == .object(["ok": .bool(true)]))
            await #expect {
                try await store.heartbeat(token, for: .seconds(10))
            } throws: { error in
                guard case .leaseLost(token, _) = error as? JobStoreError else { return false }
                return true
            }
        }
    }

    @Test("An expired lease is a failed attempt: retried with attempts left, else failed; its token is stale",
          arguments: StoreBackend.allCases)
    func expiry(backend: StoreBackend) async throws {
        try await withStore(backend) { store, clock in
            let retried = try await store.add(payload("retried", retry: RetryPolicy(maxAttempts: 2, jitter: 0)))
            let once = try await store.add(payload("once"))
            let leased = try await store.lease(queue: "mail", limit: 2, for: .seconds(10), consumer: "w", completing: [])
            #expect(leased.jobs.map(\.id) == [retried.id, once.id])
            #expect(try await store.nextLeaseExpiry() == clock.now.advanced(by: .seconds(10)))
            #expect(try await store.expireLeases().ended.isEmpty)
            clock.advance(by: .seconds(11))
            let expired = try await store.expireLeases()
            #expect(expired.ended.count == 2 && expired.nextExpiry == nil)
            guard case .requeued(let requeued) = expired.ended[0], case .failed(let failed) = expired.ended[1] else {
                Issue.record("expected a retry then a failure, got \(expired.ended)")
                return
            }
            #expect(requeued.id == retried.id && requeued.state == .queued && failed.job.id == once.id && failed.job.state == .failed)
            let stale = try #require(leased.jobs[0].lease?.token)
            await #expect {
                try await store.complete(stale, result: nil)
            } throws: { error in
                guard case .leaseLost(stale, _) = error as? JobStoreError else { return false }
                return true
            }
        }
    }

    @Test("Fail and release end a lease; leases complete in the same request as the next lease", arguments: StoreBackend.allCases)
    func failReleaseAndBatch(backend: StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            for text in ["a", "b", "c"] { _ = try await store.add(payload(text)) }
            let leased = try await store.lease(queue: "mail", limit: 3, for: .seconds(60), consumer: "w", completing: [])
            let tokens = leased.jobs.compactMap(\.lease?.token)
            let failed = try await store.fail(tokens[0], reason: "bad input")
            #expect(failed.job.state == .failed && failed.job.error == "bad input")
            let released = try await store.release(tokens[1], delay: .zero)
            #expect(released.state == .queued && released.attempts == 0)
            let next = try await store.lease(queue: "mail", limit: 1, for: .seconds(60), consumer: "w",
                                             completing: [(token: tokens[2], result: nil), (token: tokens[0], result: nil)])
            #expect(next.jobs.map(\.id) == [released.id])
            #expect(next.completed.count == 2)
            #expect((try? next.completed[0].get())?.finished.job.state == .succeeded)
            guard case .failure(.leaseLost) = next.completed[1] else {
                Issue.record("a failed lease's token completed: \(next.completed[1])")
                return
            }
            // A queue of commands serves no consumer.
            _ = try await store.add(spec(queue: "builds"))
            let refused = try await store.lease(queue: "builds", limit: 1, for: .seconds(60), consumer: "w", completing: [])
            #expect(refused.refusal == .notAConsumerQueue("builds") && refused.jobs.isEmpty)
        }
    }

    @Test("A batch of completions: each held lease completes with its result, a token given twice is a repeat, dependents wait for all they run after",
          arguments: StoreBackend.allCases)
    func completeMany(backend: StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            var ids: [JobID] = []
            for text in ["a", "b", "c"] { ids.append(try await store.add(payload(text)).id) }
            let afterTwo = try await store.add(spec("after-a-b", after: [ids[0], ids[1]]))
            let afterThree = try await store.add(spec("after-c", after: [ids[2]]))
            let leased = try await store.lease(queue: "mail", limit: 3, for: .seconds(60), consumer: "w", completing: [])
            let tokens = leased.jobs.compactMap(\.lease?.token)
            #expect(tokens.count == 3)
            let outcomes = try await store.complete([
                (token: tokens[0], result: .string("one")), (token: tokens[1], result: nil), (token: tokens[0], result: .string("again")),
            ])
            let done = outcomes.compactMap { try? $0.get() }
            #expect(done.count == 3)
            #expect(done.map(\.repeated) == [false, false, true])
            #expect(done[0].finished.job.result == .string("one") && done[1].finished.job.result == nil)
            #expect(done[2].finished.job.result == .string("one"), "a repeat answers the first completion")
            #expect(done.flatMap(\.finished.unblocked) == [afterTwo.id], "queued once both it runs after succeeded")
            #expect(try await store.job(afterThree.id)?.state == .blocked)
            let last = try await store.complete([(token: tokens[2], result: nil)])
            #expect((try? last[0].get())?.finished.unblocked == [afterThree.id])
            #expect(try await store.job(afterTwo.id)?.state == .queued)
        }
    }
}
