import JobModel
import JobQueueTesting
@testable import JobStore
import JobStoring
import Testing

@Suite("State transitions", .timeLimit(.minutes(1)))
struct TransitionTests {
    /// A job claimed and running.
    func running(_ store: JobStore, _ spec: JobSpec = spec()) async throws -> Job {
        let job = try await store.add(spec)
        let claimed = try await store.claim(queue: spec.queue, limit: 100)
        return try #require(claimed.first { $0.id == job.id })
    }

    @Test("finish: running → succeeded (exit 0) or failed (status, signal, reason recorded)")
    func finish() async throws {
        try await withStore { store, clock async throws in
            let a = try await running(store)
            clock.advance(by: .seconds(3))
            let done = try await store.finish(a.id, .succeeded).job
            #expect(done.state == .succeeded)
            #expect(done.exitCode == 0)
            #expect(done.finishedAt == clock.now)
            #expect(try await store.existing(a.id) == done)

            let b = try await running(store)
            let failed = try await store.finish(b.id, .failed(exitCode: nil, signal: 9, reason: "killed by signal 9")).job
            #expect(failed.state == .failed)
            #expect(failed.signal == 9)
            #expect(failed.exitCode == nil)
            #expect(failed.error == "killed by signal 9")
        }
    }

    @Test("finish, scheduleRetry and release given the job's spec answer the job as the store holds it, without reading the spec back")
    func knownSpec() async throws {
        try await withStore { store, _ async throws in
            var detailed = spec()
            detailed.env = ["A": "1"]
            detailed.label = "known"
            let a = try await running(store, detailed)
            #expect(try await store.finish(a.id, .succeeded, spec: a.spec).job == store.existing(a.id))
            let b = try await running(store, detailed)
            #expect(try await store.scheduleRetry(b.id, at: .now(), reason: "x", spec: b.spec) == store.existing(b.id))
            let c = try await running(store, detailed)
            #expect(try await store.release(c.id, spec: c.spec) == store.existing(c.id))
        }
    }

    @Test("Illegal transitions are refused with the job's state, and change nothing")
    func illegalTransitions() async throws {
        try await withStore { store, _ async throws in
            let queued = try await store.add(spec())
            let before = try await store.existing(queued.id)
            await expectStoreError(.illegalTransition(queued.id, from: .queued, to: .succeeded)) {
                try await store.finish(queued.id, .succeeded)
            }
            await expectStoreError(.illegalTransition(queued.id, from: .queued, to: .queued)) {
                try await store.scheduleRetry(queued.id, at: .now(), reason: "x")
            }
            await expectStoreError(.illegalTransition(queued.id, from: .queued, to: .queued)) {
                try await store.release(queued.id)
            }
            await expectStoreError(.illegalTransition(queued.id, from: .queued, to: .queued)) {
                try await store.requeue(queued.id)
            }
            #expect(try await store.existing(queued.id) == before)

            let done = try await running(store)
            _ = try await store.finish(done.id, .succeeded)
            let finished = try await store.existing(done.id)
            await expectStoreError(.illegalTransition(done.id, from: .succeeded, to: .failed)) {
                try await store.finish(done.id, .failed(exitCode: 1, signal: nil, reason: "again"))
            }
            await expectStoreError(.illegalTransition(done.id, from: .succeeded, to: .cancelled)) {
                try await store.cancel(done.id)
            }
            await expectStoreError(.illegalTransition(done.id, from: .succeeded, to: .queued)) {
                try await store.requeue(done.id)
            }
            #expect(try await store.existing(done.id) == finished)

            await expectStoreError(.notFound(4242)) { try await store.finish(4242, .succeeded) }
            await expectStoreError(.notFound(4242)) { try await store.cancel(4242) }
            await expectStoreError(.notFound(4242)) { try await store.requeue(4242) }
            #expect(try await store.job(4242) == nil)
        }
    }

    @Test("scheduleRetry: running → queued at the given time, the failure recorded, attempts kept")
    func scheduleRetry() async throws {
        try await withStore { store, clock async throws in
            var retried = spec()
            retried.retry = RetryPolicy(maxAttempts: 3)
            let job = try await running(store, retried)
            #expect(job.hasAttemptsLeft)
            let at = clock.now.advanced(by: .seconds(30))
            let queued = try await store.scheduleRetry(job.id, at: at, exitCode: 2, reason: "exited with status 2")
            #expect(queued.state == .queued)
            #expect(queued.runAt == at)
            #expect(queued.attempts == 1)
            #expect(queued.exitCode == 2)
            #expect(queued.error == "exited with status 2")
            #expect(try await store.claim(queue: "default").isEmpty)
            clock.advance(by: .seconds(30))
            let again = try #require(try await store.claim(queue: "default").first)
            #expect(again.attempts == 2)
            #expect(again.error == nil)
            #expect(again.exitCode == nil)
        }
    }

    @Test("release: a claimed job goes back to queued, in its place, and the claim is not an attempt")
    func release() async throws {
        try await withStore { store, _ async throws in
            let first = try await store.add(spec())
            let second = try await store.add(spec())
            let claimed = try await store.claim(queue: "default", limit: 2)
            #expect(claimed.map(\.id) == [first.id, second.id])
            let released = try await store.release(first.id)
            #expect(released.state == .queued)
            #expect(released.attempts == 0)
            #expect(released.startedAt == nil)
            #expect(try await store.claim(queue: "default").map(\.id) == [first.id])
        }
    }

    @Test("cancel: queued and running jobs become cancelled; the previous state is reported")
    func cancel() async throws {
        try await withStore { store, clock async throws in
            let queued = try await store.add(spec())
            let cancelled = try await store.cancel(queued.id, reason: "cancelled by uid 1000")
            #expect(cancelled.previousState == .queued)
            #expect(cancelled.job.state == .cancelled)
            #expect(cancelled.job.error == "cancelled by uid 1000")
            #expect(cancelled.job.finishedAt == clock.now)
            #expect(try await store.claim(queue: "default").isEmpty)

            let runningJob = try await running(store)
            let stopped = try await store.cancel(runningJob.id)
            #expect(stopped.previousState == .running)
            #expect(stopped.job.state == .cancelled)
            // The worker's report comes afterwards and is refused: the cancel stands.
            await expectStoreError(.illegalTransition(runningJob.id, from: .cancelled, to: .succeeded)) {
                try await store.finish(runningJob.id, .succeeded)
            }
            await expectStoreError(.illegalTransition(runningJob.id, from: .cancelled, to: .cancelled)) {
                try await store.cancel(runningJob.id)
            }
        }
    }

    @Test("requeue: failed and cancelled jobs run again from their first attempt")
    func requeue() async throws {
        try await withStore { store, clock async throws in
            let job = try await running(store)
            _ = try await store.finish(job.id, .failed(exitCode: 1, signal: nil, reason: "exited with status 1"))
            clock.advance(by: .seconds(5))
            let again = try await store.requeue(job.id)
            #expect(again.state == .queued)
            #expect(again.attempts == 0)
            #expect(again.error == nil && again.exitCode == nil && again.finishedAt == nil)
            #expect(again.runAt == clock.now)
            #expect(try await store.claim(queue: "default").map(\.id) == [job.id])

            let other = try await store.add(spec())
            _ = try await store.cancel(other.id)
            #expect(try await store.requeue(other.id).state == .queued)
        }
    }

    @Test("requeue refuses a job whose idempotency key a live job now holds")
    func requeueKeyConflict() async throws {
        try await withStore { store, _ async throws in
            var keyed = spec()
            keyed.idempotencyKey = "k"
            let old = try await store.add(keyed)
            _ = try await store.cancel(old.id)
            let new = try await store.insert([keyed])[0]
            #expect(new.created)
            await expectStoreError(.conflict(old.id, "a live job already holds its idempotency key")) {
                try await store.requeue(old.id)
            }
            #expect(try await store.existing(old.id).state == .cancelled)
        }
    }

    @Test("Recovery: jobs left running go back to queued, the interrupted attempt counted apart")
    func recovery() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = StoreConfiguration(path: directory + "/jobs.db", logDirectory: directory)
            let clock = TestClock()
            let store = try await JobStore.openQuietly(configuration, clock: clock.function)
            let ids = try await store.insert((0..<3).map { _ in spec() }).map(\.job.id)
            _ = try await store.claim(queue: "default", limit: 2)
            await store.close()  // the "dead daemon": jobs 1 and 2 are left running

            let reopened = try await JobStore.openQuietly(configuration, clock: clock.function)
            #expect(try await reopened.recoverInterruptedJobs() == Array(ids.prefix(2)))
            for id in ids.prefix(2) {
                let job = try await reopened.existing(id)
                #expect(job.state == .queued)
                // The interrupted attempt is not counted: attempts never pass the limit.
                #expect(job.attempts == 0 && job.interruptedAttempts == 1)
                #expect(job.error == "attempt 1 was interrupted: jobqd stopped or crashed while it ran")
            }
            #expect(try await reopened.recoverInterruptedJobs().isEmpty)
            // They keep their place: claimed again before the job that was never claimed.
            let again = try await reopened.claim(queue: "default", limit: 3)
            #expect(again.map(\.id) == ids)
            #expect(again.map(\.attempts) == [1, 1, 1] && again.map(\.interruptedAttempts) == [1, 1, 0])
            await reopened.close()
        }
    }
}
