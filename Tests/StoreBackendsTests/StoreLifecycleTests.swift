import JobBasics
import JobModel
import JobQueueTesting
import JobStoring
import Testing

/// What a job goes through, the same on every backend: claims in order, delays, records,
/// retries, releases, recovery, dependencies, cancel and retry by hand.
@Suite("Store backends: a job's life", .postgresCluster, .timeLimit(.minutes(2)))
struct StoreLifecycleTests {
    @Test("Claims take the highest priority, then the earliest run_at, then the lowest id; more says what is left",
          arguments: StoreBackend.allCases)
    func claimOrder(backend: StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            let low = try await store.add(spec("low"))
            let high = try await store.add(spec("high", priority: 5))
            let second = try await store.add(spec("second"))
            let first = try await store.claim(limit: 2)
            #expect(first.jobs.map(\.id) == [high.id, low.id])
            #expect(first.more)
            #expect(first.jobs.allSatisfy { $0.state == .running && $0.attempts == 1 && $0.runs == 1 && $0.stdoutPath != nil })
            let rest = try await store.claim(limit: 2)
            #expect(rest.jobs.map(\.id) == [second.id] && rest.more == false)
            #expect(try await store.claim().jobs.isEmpty)
            let counts = try await store.counts()
            #expect(counts.count == 1 && counts[0][.running] == 3 && counts[0][.queued] == 0)
        }
    }

    @Test("terminal(among:) names the ids whose jobs are finished, whatever the order, skipping unknown ones",
          arguments: StoreBackend.allCases)
    func terminalAmong(backend: StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            let done = try await store.add(spec("done"))
            let waiting = try await store.add(spec("waiting"))
            let cancelled = try await store.add(spec("cancelled"))
            _ = try await store.claim()
            _ = try await store.finish(done.id, .succeeded)
            _ = try await store.cancel(cancelled.id, reason: "cancelled")
            #expect(try await store.terminal(among: [cancelled.id, JobID(999_999), waiting.id, done.id]).sorted()
                == [done.id, cancelled.id])
            #expect(try await store.terminal(among: []).isEmpty)
        }
    }

    @Test("A delayed job waits for its time; nextRunAt says when", arguments: StoreBackend.allCases)
    func delays(backend: StoreBackend) async throws {
        try await withStore(backend) { store, clock in
            let later = clock.now.advanced(by: .seconds(30))
            let delayed = try await store.add(JobSpec(command: .argv(["true"]), runAt: later))
            #expect(try await store.claim().jobs.isEmpty)
            #expect(try await store.nextRunAt("default", after: clock.now) == later)
            clock.advance(by: .seconds(30))
            #expect(try await store.claim().jobs.map(\.id) == [delayed.id])
            #expect(try await store.nextRunAt("default", after: clock.now) == nil)
        }
    }

    @Test("Success unblocks dependents; failure fails the chain below, naming the job", arguments: StoreBackend.allCases)
    func dependencies(backend: StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            let parent = try await store.add(spec("parent"))
            let child = try await store.add(spec("child", after: [parent.id]))
            let grandchild = try await store.add(spec("grandchild", after: [child.id]))
            _ = try await store.claim()
            let done = try await store.finish(parent.id, .succeeded, usage: RunUsage(userCPU: .milliseconds(5), systemCPU: .milliseconds(1), maxResidentBytes: 4096))
            #expect(done.job.state == .succeeded && done.job.exitCode == 0 && done.unblocked == [child.id])
            #expect(done.job.usage?.maxResidentBytes == 4096)
            #expect(try await store.claim().jobs.map(\.id) == [child.id])
            let failed = try await store.finish(child.id, .failed(exitCode: 3, signal: nil, reason: "exit 3"))
            #expect(failed.job.state == .failed && failed.failedDependents == [grandchild.id])
            let below = try #require(try await store.job(grandchild.id))
            #expect(below.state == .failed && below.error == "job \(child.id), which this job runs after, failed")
            // A record of a job that is not running is refused and changes nothing.
            await #expect(throws: JobStoreError.illegalTransition(child.id, from: .failed, to: .succeeded)) {
                try await store.finish(child.id, .succeeded)
            }
            await #expect(throws: JobStoreError.notFound(JobID(999_999))) { try await store.finish(JobID(999_999), .succeeded) }
        }
    }

    @Test("A retry queues the job again at its time; each run is kept in its history", arguments: StoreBackend.allCases)
    func retries(backend: StoreBackend) async throws {
        try await withStore(backend) { store, clock in
            let job = try await store.add(spec(retry: RetryPolicy(maxAttempts: 3)))
            _ = try await store.claim()
            let retry = try await store.scheduleRetry(job.id, at: clock.now.advanced(by: .seconds(2)), exitCode: 1, reason: "exit 1")
            #expect(retry.state == .queued && retry.attempts == 1 && retry.error == "exit 1")
            #expect(try await store.claim().jobs.isEmpty)
            clock.advance(by: .seconds(2))
            let again = try #require(try await store.claim().jobs.first)
            #expect(again.attempts == 2 && again.runs == 2 && again.stdoutPath?.hasSuffix("\(job.id).2.out") == true)
            _ = try await store.finish(job.id, .succeeded)
            let history = try #require(try await store.runHistory(of: job.id))
            #expect(history.map(\.run) == [1, 2])
            #expect(history[0].exitCode == 1 && history[0].error == "exit 1" && history[1].exitCode == 0)
            #expect(try await store.runHistory(of: JobID(999_999)) == nil)
        }
    }

    @Test("A release gives the claim back without counting it; recovery requeues what was left running",
          arguments: StoreBackend.allCases)
    func releaseAndRecovery(backend: StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            let first = try await store.add(spec("first"))
            let second = try await store.add(spec("second"))
            _ = try await store.claim(limit: 2)
            let released = try await store.release(first.id)
            #expect(released.state == .queued && released.attempts == 0 && released.stdoutPath == nil)
            let recovered = try await store.recoverInterruptedJobs()
            #expect(recovered == [second.id])
            let back = try #require(try await store.job(second.id))
            #expect(back.state == .queued && back.attempts == 0 && back.interruptedAttempts == 1)
            #expect(back.error == "attempt 1 was interrupted: jobqd stopped or crashed while it ran")
            #expect(try await store.claim(limit: 5).jobs.map(\.id) == [first.id, second.id])
        }
    }

    @Test("Cancel fails the jobs waiting on it; a finished job cannot be cancelled; retry by hand", arguments: StoreBackend.allCases)
    func cancelAndRequeue(backend: StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            let parent = try await store.add(spec("parent"))
            let child = try await store.add(spec("child", after: [parent.id]))
            let cancelled = try await store.cancel(parent.id, reason: "not needed")
            #expect(cancelled.previousState == .queued && cancelled.job.state == .cancelled && cancelled.failedDependents == [child.id])
            await #expect(throws: JobStoreError.illegalTransition(parent.id, from: .cancelled, to: .cancelled)) {
                try await store.cancel(parent.id, reason: "again")
            }
            // The child runs after a cancelled job: retry the parent first.
            await #expect {
                try await store.requeue(child.id)
            } throws: { error in
                guard case .conflict(child.id, _) = error as? JobStoreError else { return false }
                return true
            }
            let requeued = try await store.requeue(parent.id)
            #expect(requeued.state == .queued && requeued.attempts == 0 && requeued.error == nil)
            #expect(try await store.requeue(child.id).state == .blocked)
            await #expect(throws: JobStoreError.illegalTransition(parent.id, from: .queued, to: .queued)) {
                try await store.requeue(parent.id)
            }
        }
    }

    @Test("Priority changes while a job waits, not after; pause and workers are kept", arguments: StoreBackend.allCases)
    func settings(backend: StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            let first = try await store.add(spec("first"))
            let second = try await store.add(spec("second"))
            let raised = try await store.setPriority(second.id, 9)
            #expect(raised.spec.priority == 9 && raised.state == .queued)
            #expect(try await store.job(second.id)?.spec.priority == 9)
            #expect(try await store.claim().jobs.map(\.id) == [second.id])
            await #expect {
                try await store.setPriority(second.id, 1)
            } throws: { error in
                guard case .conflict(second.id, _) = error as? JobStoreError else { return false }
                return true
            }
            try await store.setPaused("default", true)
            try await store.setPaused("other", true)
            try await store.setPaused("other", false)
            #expect(try await store.pausedQueues() == ["default"])
            try await store.setWorkers("default", 4)
            try await store.setWorkers("default", 6)
            #expect(try await store.storedWorkers() == ["default": 6])
            _ = first
        }
    }

    @Test("Prune deletes finished jobs older than the cutoff, batch by batch, and only those", arguments: StoreBackend.allCases)
    func prune(backend: StoreBackend) async throws {
        try await withStore(backend) { store, clock in
            var old: [JobID] = []
            for _ in 0..<5 {
                let job = try await store.add(spec())
                _ = try await store.claim()
                _ = try await store.finish(job.id, .succeeded)
                old.append(job.id)
            }
            clock.advance(by: .seconds(3600))
            let waiting = try await store.add(spec())
            let recent = try await store.add(spec("recent"))
            _ = try await store.claim(limit: 2)
            _ = try await store.finish(recent.id, .succeeded)
            _ = try await store.release(waiting.id)
            let batches = Locked<[[JobID]]>([])
            let count = try await store.prune(finishedBefore: clock.now.advanced(by: .seconds(-60)), batchSize: 2) { batch in
                batches.withLock { $0.append(batch.map(\.id)) }
            }
            #expect(count == 5)
            #expect(batches.withLock { $0.flatMap { $0 } } == old && batches.withLock { $0.map(\.count) } == [2, 2, 1])
            #expect(try await store.allJobs().map(\.id) == [waiting.id, recent.id])
            #expect(try await store.counts().first?.total == 2)
        }
    }

    @Test("A stopped run goes into the history with what it used; the job's state is left alone", arguments: StoreBackend.allCases)
    func stoppedRuns(backend: StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            let job = try await store.add(spec())
            let running = try #require(try await store.claim().jobs.first)
            _ = try await store.cancel(job.id, reason: "by hand")
            let usage = RunUsage(userCPU: .milliseconds(7), systemCPU: .milliseconds(2), maxResidentBytes: 8192)
            try await store.keepStoppedRun(of: running, .failed(exitCode: nil, signal: 15, reason: "cancelled"), usage: usage)
            let history = try #require(try await store.runHistory(of: job.id))
            #expect(history.count == 1 && history[0].signal == 15 && history[0].usage == usage)
            let after = try #require(try await store.job(job.id))
            #expect(after.state == .cancelled && after.usage == usage)
        }
    }
}
