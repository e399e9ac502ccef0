import JobModel
@testable import JobStore
import JobStoring
import Testing

extension JobStore {
    func lease(_ queue: String, limit: Int = 1, seconds: Int64 = 60, consumer: String = "c1",
               completing: [(token: LeaseToken, result: JSONValue?)] = []) async throws(JobStoreError) -> LeasedJobs {
        let leased = try await lease(queue: queue, limit: limit, for: .seconds(seconds), consumer: consumer, completing: completing)
        if let refusal = leased.refusal { throw refusal }
        return leased
    }

    func heartbeat(_ token: LeaseToken, seconds: Int64 = 60) async throws(JobStoreError) -> Job {
        try await heartbeat(token, for: .seconds(seconds))
    }

    func complete(_ token: LeaseToken) async throws(JobStoreError) -> CompletedLease {
        try await complete(token, result: nil)
    }

    func fail(_ token: LeaseToken) async throws(JobStoreError) -> LeaseEnding {
        try await fail(token, reason: "no")
    }

    func release(_ token: LeaseToken) async throws(JobStoreError) -> Job {
        try await release(token, delay: .zero)
    }

    func expireLeases() async throws(JobStoreError) -> ExpiredLeases {
        try await awaiting { expireLeases(completion: $0) }
    }
}

func payload(_ value: JSONValue = .object(["to": .string("ann")]), queue: String = "mail", priority: Int = 0,
             attempts: Int = 1) -> JobSpec {
    var spec = JobSpec(command: .payload(value), queue: queue, priority: priority)
    spec.retry = RetryPolicy(maxAttempts: attempts, initialBackoff: .seconds(10), maxBackoff: .seconds(10), multiplier: 1, jitter: 0)
    return spec
}

/// Expects `body` to throw ``JobStoreError/leaseLost(_:_:)`` whose reason contains `why`.
func expectLeaseLost(_ why: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void) async {
    do {
        try await body()
        Issue.record("expected lease_lost (\(why))", sourceLocation: sourceLocation)
    } catch JobStoreError.leaseLost(_, let reason) {
        #expect(reason.contains(why), "\(reason)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected lease_lost, got \(error)", sourceLocation: sourceLocation)
    }
}

@Suite("Leases")
struct LeaseTests {
    @Test("A queue takes the kind of its first job; the other kind is refused and nothing is stored")
    func queueKinds() async throws {
        try await withStore { store, _ in
            _ = try await store.add(payload())
            await #expect(throws: JobStoreError.wrongQueueKind(index: nil, queue: "mail", payloadQueue: true)) {
                _ = try await store.add(spec(queue: "mail"))
            }
            _ = try await store.add(spec(queue: "build"))
            await #expect(throws: JobStoreError.wrongQueueKind(index: 1, queue: "build", payloadQueue: false)) {
                _ = try await store.insert([payload(queue: "other"), payload(queue: "build")])
            }
            // The refused batch gave "other" no kind: a command may still take it.
            _ = try await store.add(spec(queue: "other"))
            // A batch that opens a queue with both kinds is refused as a whole.
            await #expect(throws: JobStoreError.wrongQueueKind(index: 1, queue: "fresh", payloadQueue: true)) {
                _ = try await store.insert([payload(queue: "fresh"), spec(queue: "fresh")])
            }
            #expect(try await store.payloadQueues() == ["mail"])
            await #expect(throws: JobStoreError.notAConsumerQueue("build")) { _ = try await store.lease("build") }
            // The workers' claim never takes a payload job.
            #expect(try await store.claim(queue: "mail", limit: 5).isEmpty)
        }
    }

    @Test("A lease takes the highest priority first, names the job and its run, and counts an attempt; a delayed job says when")
    func leaseOrder() async throws {
        try await withStore { store, clock in
            let low = try await store.add(payload(priority: -1))
            let high = try await store.add(payload(priority: 5))
            var delayed = payload()
            delayed.runAt = clock.now.advanced(by: .seconds(30))
            let later = try await store.add(delayed)
            let first = try await store.lease("mail", limit: 5, seconds: 60, consumer: "worker-1")
            #expect(first.jobs.map(\.id) == [high.id, low.id])
            let job = first.jobs[0]
            #expect(job.state == .running && job.attempts == 1 && job.runs == 1)
            #expect(job.lease == Lease(token: LeaseToken(job: high.id, run: 1), consumer: "worker-1",
                                       expiresAt: clock.now.advanced(by: .seconds(60))))
            #expect(job.stdoutPath == nil)
            #expect(first.nextRunAt == later.runAt)
            #expect(try await store.lease("mail").jobs.isEmpty)
            clock.advance(by: .seconds(30))
            #expect(try await store.lease("mail").jobs.map(\.id) == [later.id])
        }
    }

    @Test("Heartbeat extends; complete stores the result, twice is the same answer; any later use of the token is refused")
    func heartbeatAndComplete() async throws {
        try await withStore { store, clock in
            _ = try await store.add(payload())
            let token = try #require(try await store.lease("mail", seconds: 10).jobs.first?.lease?.token)
            clock.advance(by: .seconds(8))
            let extended = try await store.heartbeat(token, seconds: 10)
            #expect(extended.lease?.expiresAt == clock.now.advanced(by: .seconds(10)))
            clock.advance(by: .seconds(8))  // past the first lease's end, within the extension
            let done = try await store.complete(token, result: .object(["sent": .bool(true)]))
            #expect(!done.repeated && done.finished.job.state == .succeeded && done.finished.job.lease == nil)
            #expect(try await store.job(token.job)?.result == .object(["sent": .bool(true)]))
            let again = try await store.complete(token, result: .object(["sent": .bool(true)]))
            #expect(again.repeated && again.finished.job == done.finished.job)
            await expectLeaseLost("already succeeded") { _ = try await store.heartbeat(token) }
            await expectLeaseLost("already succeeded") { _ = try await store.fail(token) }
            await expectLeaseLost("already succeeded") { _ = try await store.release(token) }
            await #expect(throws: JobStoreError.notFound(JobID(99))) {
                _ = try await store.heartbeat(LeaseToken(job: JobID(99), run: 1))
            }
        }
    }

    @Test("An expired lease is a failed attempt: retried after the backoff, and the old token is fenced off from the new lease")
    func expiryAndFencing() async throws {
        try await withStore { store, clock in
            let job = try await store.add(payload(attempts: 2))
            let old = try #require(try await store.lease("mail", seconds: 5).jobs.first?.lease?.token)
            #expect(try await store.expireLeases() == ExpiredLeases(ended: [], nextExpiry: clock.now.advanced(by: .seconds(5))))
            clock.advance(by: .seconds(5))
            // Expired, not yet ended by the timer: the holder may no longer act.
            await expectLeaseLost("expired") { _ = try await store.complete(old) }
            let expired = try await store.expireLeases()
            guard case .requeued(let requeued) = try #require(expired.ended.first) else {
                Issue.record("expected a retry: \(expired)")
                return
            }
            #expect(requeued.state == .queued && requeued.attempts == 1 && requeued.lease == nil)
            #expect(requeued.error?.contains("expired") == true)
            #expect(requeued.runAt == clock.now.advanced(by: .seconds(10)))
            #expect(expired.nextExpiry == nil)
            await expectLeaseLost("queued again") { _ = try await store.heartbeat(old) }
            clock.advance(by: .seconds(10))
            let new = try #require(try await store.lease("mail", seconds: 5, consumer: "c2").jobs.first?.lease?.token)
            #expect(new == LeaseToken(job: job.id, run: 2))
            await expectLeaseLost("leased again") { _ = try await store.complete(old) }
            // Its attempts spent, the second expiry fails the job.
            clock.advance(by: .seconds(5))
            guard case .failed(let failed) = try #require(try await store.expireLeases().ended.first) else {
                Issue.record("expected a failure")
                return
            }
            #expect(failed.job.state == .failed && failed.job.attempts == 2)
        }
    }

    @Test("Fail retries while attempts are left, then fails the job and its dependents; release does not count an attempt")
    func failAndRelease() async throws {
        try await withStore { store, clock in
            let job = try await store.add(payload(attempts: 2))
            var after = payload()
            after.after = [job.id]
            let dependent = try await store.add(after)
            var token = try #require(try await store.lease("mail").jobs.first?.lease?.token)
            let released = try await store.release(token, delay: .seconds(3))
            #expect(released.state == .queued && released.attempts == 0 && released.runAt == clock.now.advanced(by: .seconds(3)))
            clock.advance(by: .seconds(3))
            token = try #require(try await store.lease("mail").jobs.first?.lease?.token)
            #expect(token.run == 2)
            guard case .requeued(let retry) = try await store.fail(token, reason: "smtp down") else {
                Issue.record("expected a retry")
                return
            }
            #expect(retry.error == "smtp down" && retry.attempts == 1)
            clock.advance(by: .seconds(10))
            token = try #require(try await store.lease("mail").jobs.first?.lease?.token)
            guard case .failed(let failed) = try await store.fail(token, reason: "smtp down") else {
                Issue.record("expected a failure")
                return
            }
            #expect(failed.job.state == .failed && failed.failedDependents == [dependent.id])
        }
    }

    @Test("A lease that carries completions: they commit with it, each on its own, and stand when the lease is refused")
    func carriedCompletions() async throws {
        try await withStore { store, _ in
            _ = try await store.insert([payload(.integer(1)), payload(.integer(2))])
            let first = try #require(try await store.lease("mail").jobs.first?.lease?.token)
            let next = try await store.lease("mail", completing: [(first, .string("done")), (LeaseToken(job: 99, run: 1), nil)])
            #expect(next.jobs.map(\.spec.command) == [.payload(.integer(2))])
            #expect(next.completed.count == 2)
            #expect(try next.completed[0].get().finished.job.result == .string("done"))
            #expect(throws: JobStoreError.notFound(JobID(99))) { try next.completed[1].get() }
            _ = try await store.add(spec(queue: "build"))
            let second = try #require(next.jobs.first?.lease?.token)
            let refused = try await store.lease(queue: "build", limit: 1, for: .seconds(60), consumer: "c", completing: [(second, nil)])
            #expect(refused.refusal == .notAConsumerQueue("build"))
            #expect(try await store.job(second.job)?.state == .succeeded)
        }
    }

    @Test("A cancel of a leased job is what its next heartbeat hears; recovery at start keeps leases, requeues commands")
    func cancelAndRecovery() async throws {
        try await withStore { store, _ in
            _ = try await store.add(payload())
            _ = try await store.add(payload())
            let command = try await store.add(spec())
            let leased = try await store.lease("mail", limit: 2).jobs
            _ = try await store.claim(queue: "default")
            _ = try await store.cancel(leased[0].id, reason: "cancelled by uid 0")
            await expectLeaseLost("was cancelled (cancelled by uid 0)") { _ = try await store.heartbeat(leased[0].lease!.token) }
            #expect(try await store.recoverInterruptedJobs() == [command.id])
            #expect(try await store.job(leased[1].id)?.lease == leased[1].lease)
            #expect(try await store.nextLeaseExpiry() == leased[1].lease?.expiresAt)
        }
    }
}
