import JobModel
import JobQueueTesting
@testable import JobStore
import Testing

@Suite("Run history and usage", .timeLimit(.minutes(1)))
struct RunHistoryTests {
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
