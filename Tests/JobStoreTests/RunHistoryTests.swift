import JobModel
import JobQueueTesting
@testable import JobStore
import JobStoring
import Testing

@Suite("Run history and usage", .timeLimit(.minutes(1)))
struct RunHistoryTests {
    @Test("A stopped run's end is kept beside the cancel, and becomes the job's last use; a pruned job gets none")
    func stoppedRun() async throws {
        try await withStore { store, clock async throws in
            let job = try await store.add(spec())
            let started = clock.now
            var running = try #require(try await store.claim(queue: "default").first)
            running.startedAt = started
            _ = try await store.cancel(job.id)
            clock.advance(by: .seconds(4))
            let usage = RunUsage(userCPU: .seconds(3), systemCPU: .milliseconds(5), maxResidentBytes: 2 << 20)
            let end = JobCompletion.failed(exitCode: nil, signal: 15, reason: "cancelled while running and was stopped")
            try await keep(store, running, end, usage)
            #expect(try await store.runHistory(of: job.id) == [
                RunRecord(run: 1, startedAt: started, finishedAt: started.advanced(by: .seconds(4)), signal: 15,
                          error: "cancelled while running and was stopped", usage: usage),
            ])
            let after = try await store.existing(job.id)
            #expect(after.state == .cancelled && after.usage == usage)
            // Pruned meanwhile: nothing to keep, and no error.
            clock.advance(by: .seconds(60))
            _ = try await store.pruneBatch(finishedBefore: clock.now)
            try await keep(store, running, end, usage)
            #expect(try await store.runHistory(of: job.id) == nil)
        }
    }

    private func keep(_ store: JobStore, _ job: Job, _ end: JobCompletion, _ usage: RunUsage) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            store.keepStoppedRun(of: job, end, usage: usage) { continuation.resume(with: $0.mapError { $0 as any Error }) }
        }
    }

    @Test("Each ended run is kept with its times, its end and what it used; the job holds the last run's use; pruning takes them")
    func history() async throws {
        try await withStore { store, clock async throws in
            var retried = spec()
            retried.retry = RetryPolicy(maxAttempts: 2)
            let job = try await store.add(retried)
            let first = RunUsage(userCPU: .microseconds(1_500_000), systemCPU: .microseconds(250), maxResidentBytes: 8 << 20)
            let second = RunUsage(userCPU: .milliseconds(20), systemCPU: .milliseconds(10), maxResidentBytes: 3 << 20)
            #expect(try await store.runHistory(of: job.id) == [])
            #expect(try await store.runHistory(of: JobID(999)) == nil)

            let started = clock.now
            _ = try await store.claim(queue: "default")
            clock.advance(by: .seconds(2))
            let requeued = try await store.scheduleRetry(job.id, at: clock.now, exitCode: 3, reason: "exited with status 3", usage: first)
            #expect(requeued.usage == first)
            clock.advance(by: .seconds(1))
            _ = try await store.claim(queue: "default")
            clock.advance(by: .seconds(5))
            let done = try await store.finish(job.id, .succeeded, usage: second).job
            #expect(done.usage == second)
            #expect(try await store.existing(job.id).usage == second)

            let runs = try #require(try await store.runHistory(of: job.id))
            #expect(runs == [
                RunRecord(run: 1, startedAt: started, finishedAt: started.advanced(by: .seconds(2)), exitCode: 3,
                          error: "exited with status 3", usage: first),
                RunRecord(run: 2, startedAt: started.advanced(by: .seconds(3)), finishedAt: started.advanced(by: .seconds(8)),
                          exitCode: 0, usage: second),
            ])
            #expect(runs[1].wall == .seconds(5))

            // A run without a measure (it never started a process) is kept too.
            let failed = try await store.add(spec())
            _ = try await store.claim(queue: "default")
            _ = try await store.finish(failed.id, .failed(exitCode: nil, signal: nil, reason: "could not start: no such file"))
            #expect(try await store.existing(failed.id).usage == nil)
            #expect(try await store.runHistory(of: failed.id)?.map(\.usage) == [nil])

            clock.advance(by: .seconds(10))
            let pruned = try await store.pruneBatch(finishedBefore: clock.now)
            #expect(Set(pruned.map(\.id)) == [job.id, failed.id])
            #expect(try await store.runHistory(of: job.id) == nil)
            let left = try await store.read { context throws(JobStoreError) in
                try context.withStatement("SELECT count(*) FROM job_run_history") { statement throws(SQLiteError) in
                    _ = try statement.step()
                    return statement.int64(0)
                }
            }
            #expect(left == 0)
        }
    }
}
