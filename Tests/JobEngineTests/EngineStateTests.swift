@testable import JobEngine
import JobModel
import JobRunner
import JobStore
import JobStoring
import Testing

/// ``EngineState`` alone: inputs in, actions out, no tasks, no store, no clock.
@Suite("EngineState")
struct EngineStateTests {
    let now = Timestamp(millisecondsSinceEpoch: 1_800_000_000_000)

    func job(_ id: Int64, queue: String = "default") -> Job {
        Job(id: JobID(id), spec: JobSpec(argv: ["true"], queue: queue), state: .running, attempts: 1,
            createdAt: now, updatedAt: now)
    }

    /// A running engine with one queue of `concurrency` slots, its first claim made.
    func started(concurrency: Int = 2) -> EngineState {
        var state = EngineState(defaultConcurrency: concurrency)
        let actions = state.handle(.started(queues: ["default"], paused: []), now: now)
        #expect(actions == [.claim(queue: "default", limit: concurrency)])
        return state
    }

    func started(_ job: Job) -> Job {
        var job = job
        job.startedAt = now
        return job
    }

    @Test("A claim asks for the free slots only; its jobs start as it returns, nothing waits")
    func claimAndStart() {
        var state = started(concurrency: 2)
        let jobs = [job(1), job(2)]
        // Both slots taken: no claim.
        #expect(state.handle(.claimed(queue: "default", jobs: jobs, limit: 2), now: now)
            == [.run(started(jobs[0])), .run(started(jobs[1]))])
        // A run ends: its outcome is recorded and its slot claimed for.
        #expect(state.handle(.runEnded(1, .exited(code: 0), abandoned: false), now: now)
            == [.record(started(jobs[0]), .exited(code: 0)), .claim(queue: "default", limit: 1)])
        #expect(state.jobs[1]?.phase == .recording)
        #expect(state.handle(.claimed(queue: "default", jobs: [job(3)], limit: 1), now: now) == [.run(started(job(3)))])
        #expect(state.handle(.recorded(1), now: now) == [])
        #expect(state.jobs[1] == nil)
        #expect(state.runningCount("default") == 2)
    }

    @Test("A claim answered after the concurrency shrank: the jobs beyond the slots go back at once")
    func surplusGoesBack() {
        var state = started(concurrency: 2)
        #expect(state.handle(.concurrencyChanged("default", 1), now: now) == [])
        #expect(state.handle(.claimed(queue: "default", jobs: [job(1), job(2)], limit: 2), now: now)
            == [.run(started(job(1))), .release([job(2)])])
        #expect(state.jobs.keys.sorted() == [1])
        #expect(state.handle(.releaseEnded, now: now) == [])
    }

    @Test("A global cap: claims take what it leaves, and a freed slot goes round the queues")
    func globalCap() {
        var state = EngineState(defaultConcurrency: 2, maxRunning: 2)
        #expect(state.handle(.started(queues: ["a", "b"], paused: []), now: now) == [.claim(queue: "a", limit: 2)])
        // a found one (and sleeps): the other slot goes to b.
        #expect(state.handle(.claimed(queue: "a", jobs: [job(1, queue: "a")], limit: 2), now: now)
            == [.findNextRunAt(queue: "a"), .run(started(job(1, queue: "a"))), .claim(queue: "b", limit: 1)])
        #expect(state.handle(.claimed(queue: "b", jobs: [job(2, queue: "b")], limit: 1), now: now) == [.run(started(job(2, queue: "b")))])
        // Both slots busy: work arriving in a wakes it but claims nothing.
        #expect(state.handle(.workArrived(queues: ["a"]), now: now) == [])
        // b's job ends: the slot goes round from the queue after b, so a claims it.
        #expect(state.handle(.runEnded(2, .exited(code: 0), abandoned: false), now: now)
            == [.record(started(job(2, queue: "b")), .exited(code: 0)), .claim(queue: "a", limit: 1)])
        #expect(state.totalRunning == 1 && state.reserved == 1)
    }

    @Test("A node that serves some queues never claims from the others, whatever wakes them")
    func servesSomeQueues() {
        var state = EngineState(defaultConcurrency: 1, servedQueues: ["gpu"])
        #expect(state.handle(.started(queues: ["default", "gpu"], paused: []), now: now) == [.claim(queue: "gpu", limit: 1)])
        #expect(state.handle(.workArrived(queues: ["default"]), now: now) == [])
        #expect(state.handle(.workArrived(queues: ["cpu"]), now: now) == [])
        #expect(state.handle(.concurrencyChanged("default", 4), now: now) == [])
        #expect(state.handle(.claimed(queue: "gpu", jobs: [job(1, queue: "gpu")], limit: 1), now: now)
            == [.run(started(job(1, queue: "gpu")))])
        #expect(state.runningCount("default") == 0 && state.pendingStoreWork == 0)
    }

    @Test("Jobs passed over for a per-user cap wait for a run to end, not for a timer")
    func cappedJobsWaitForARunEnd() {
        var state = started(concurrency: 3)
        // Two started; ready jobs were left because their submitter was at the cap.
        #expect(state.handle(.claimed(queue: "default", jobs: [job(1), job(2)], limit: 3, more: false, passedOverAt: now), now: now)
            == [.findNextRunAt(queue: "default", after: now), .run(started(job(1))), .run(started(job(2)))])
        // Only a job due after the claim arms the timer; one whose end is recorded frees a slot.
        #expect(state.handle(.nextRunAt(queue: "default", nil), now: now) == [])
        #expect(state.handle(.runEnded(1, .exited(code: 0), abandoned: false), now: now)
            == [.record(started(job(1)), .exited(code: 0))])
        #expect(state.handle(.recorded(1), now: now) == [.claim(queue: "default", limit: 2)])
        // A record that lands while a claim is in flight: that claim may have counted the job,
        // so when it passes jobs over, the queue claims again at once.
        #expect(state.handle(.runEnded(2, .exited(code: 0), abandoned: false), now: now)
            == [.record(started(job(2)), .exited(code: 0))])
        #expect(state.handle(.recorded(2), now: now) == [])
        #expect(state.handle(.claimed(queue: "default", jobs: [], limit: 2, passedOverAt: now), now: now)
            == [.claim(queue: "default", limit: 3)])
        // Without a cap, a queue that found nothing sleeps through runs' ends.
        #expect(state.handle(.claimed(queue: "default", jobs: [job(3)], limit: 3, more: false), now: now)
            == [.findNextRunAt(queue: "default"), .run(started(job(3)))])
        #expect(state.handle(.runEnded(3, .exited(code: 0), abandoned: false), now: now)
            == [.record(started(job(3)), .exited(code: 0))])
        #expect(state.handle(.recorded(3), now: now) == [])
    }

    @Test("A claim that finds less than it asked for puts the queue to sleep until work arrives or its next run_at")
    func sleepsWhenDry() {
        var state = started(concurrency: 1)
        #expect(state.handle(.claimed(queue: "default", jobs: [], limit: 1), now: now) == [.findNextRunAt(queue: "default")])
        let later = now.advanced(by: .seconds(60))
        #expect(state.handle(.nextRunAt(queue: "default", later), now: now) == [.rearmTimer])
        #expect(state.nextDeadline == later)
        // Too early: nothing; at the time: a claim.
        #expect(state.handle(.tick, now: now) == [.rearmTimer])
        #expect(state.handle(.tick, now: later) == [.claim(queue: "default", limit: 1), .rearmTimer])
        #expect(state.nextDeadline == nil)
        // A submit while the claim is in flight makes a dry answer claim again.
        #expect(state.handle(.workArrived(queues: ["default"]), now: now) == [])
        #expect(state.handle(.claimed(queue: "default", jobs: [], limit: 1), now: now) == [.claim(queue: "default", limit: 1)])
    }

    @Test("A failed claim is tried again at its retry time")
    func claimFailure() {
        var state = started(concurrency: 1)
        let retry = now.advanced(by: .seconds(1))
        #expect(state.handle(.claimFailed(queue: "default", retryAt: retry), now: now) == [.rearmTimer])
        #expect(state.nextDeadline == retry)
        #expect(state.handle(.tick, now: retry) == [.claim(queue: "default", limit: 1), .rearmTimer])
    }

    @Test("Cancel of a running job stops it; its end goes into the history only (the cancel is recorded)")
    func cancelRunning() {
        var state = started(concurrency: 1)
        _ = state.handle(.claimed(queue: "default", jobs: [job(1)], limit: 1), now: now)
        #expect(state.handle(.cancelled(1, queue: "default", previousState: .running), now: now) == [.stop(1)])
        #expect(state.jobs[1]?.phase == .stopping(byUser: true))
        // Its end is kept in the history with what it used, and its slot is claimed for.
        let usage = RunUsage(userCPU: .seconds(2), systemCPU: .zero, maxResidentBytes: 1 << 20)
        #expect(state.handle(.runEnded(1, .cancelled(signal: 15), usage: usage, abandoned: false), now: now) == [
            .keepStoppedRun(started(job(1)), .failed(exitCode: nil, signal: 15, reason: "cancelled while running and was stopped"), usage: usage),
            .claim(queue: "default", limit: 1),
        ])
        #expect(state.jobs.isEmpty)
        #expect(state.runningCount("default") == 0)
    }

    @Test("Runs lost to other nodes are all stopped, as a cancel stops them; one being recorded is left to its refusal")
    func runsLost() {
        var state = started(concurrency: 3)
        _ = state.handle(.claimed(queue: "default", jobs: [job(1), job(2), job(3)], limit: 3), now: now)
        _ = state.handle(.runEnded(3, .exited(code: 0), abandoned: false), now: now)
        #expect(state.jobs[3]?.phase == .recording)
        #expect(state.handle(.runsLost, now: now) == [.stop(1), .stop(2)])
        #expect(state.jobs[1]?.phase == .stopping(byUser: true) && state.jobs[2]?.phase == .stopping(byUser: true))
        #expect(state.jobs[3]?.phase == .recording)
    }

    @Test("Cancel between a run's end and its record: nothing to stop, nothing left behind")
    func cancelWhileRecording() {
        var state = started(concurrency: 1)
        _ = state.handle(.claimed(queue: "default", jobs: [job(1)], limit: 1), now: now)
        _ = state.handle(.runEnded(1, .exited(code: 0), abandoned: false), now: now)
        #expect(state.handle(.cancelled(1, queue: "default", previousState: .running), now: now) == [])
        #expect(state.handle(.recorded(1), now: now) == [])
        #expect(state.jobs.isEmpty)
        #expect(state.cancelledInFlight.isEmpty)
    }

    @Test("Cancel while the claim that returns the job is in flight: the job never starts")
    func cancelDuringClaim() {
        var state = started(concurrency: 1)
        #expect(state.handle(.cancelled(1, queue: "default", previousState: .running), now: now) == [])
        #expect(state.cancelledInFlight == [1: "default"])
        let actions = state.handle(.claimed(queue: "default", jobs: [job(1)], limit: 1), now: now)
        #expect(actions == [.claim(queue: "default", limit: 1)])
        #expect(state.jobs.isEmpty)
        #expect(state.cancelledInFlight.isEmpty)
        // A cancel of a queued job (no claim involved) remembers nothing.
        #expect(state.handle(.cancelled(5, queue: "default", previousState: .queued), now: now) == [])
        #expect(state.cancelledInFlight.isEmpty)
    }

    @Test("Pause stops claims, and a claim returning after it gives its jobs back; resume claims again")
    func pauseAndResume() {
        var state = started(concurrency: 2)
        _ = state.handle(.claimed(queue: "default", jobs: [job(1)], limit: 2), now: now)
        // The claim for the free slot is in flight when the pause comes.
        #expect(state.handle(.workArrived(queues: ["default"]), now: now) == [.claim(queue: "default", limit: 1)])
        #expect(state.handle(.paused("default"), now: now) == [])
        #expect(state.handle(.claimed(queue: "default", jobs: [job(2)], limit: 1), now: now) == [.release([job(2)])])
        #expect(state.handle(.releaseEnded, now: now) == [])
        // The running job goes on; its end claims nothing, and neither does new work.
        #expect(state.handle(.runEnded(1, .exited(code: 0), abandoned: false), now: now) == [.record(started(job(1)), .exited(code: 0))])
        #expect(state.handle(.workArrived(queues: ["default"]), now: now) == [])
        #expect(state.handle(.resumed("default"), now: now) == [.claim(queue: "default", limit: 2)])
    }

    @Test("Drain: running jobs get the grace, then are stopped and released; then it finishes")
    func drain() {
        var state = started(concurrency: 1)
        _ = state.handle(.claimed(queue: "default", jobs: [job(1)], limit: 1), now: now)
        let grace = now.advanced(by: .seconds(30))
        #expect(state.handle(.drain(graceDeadline: grace), now: now) == [.rearmTimer])
        #expect(state.nextDeadline == grace)
        #expect(state.handle(.tick, now: grace) == [.stop(1), .rearmTimer])
        #expect(state.handle(.runEnded(1, .cancelled(signal: 15), abandoned: false), now: grace) == [
            .release([started(job(1))]),
            .keepStoppedRun(started(job(1)), .failed(exitCode: nil, signal: 15, reason: "stopped when jobqd stopped, and queued again"), usage: nil),
        ])
        // The drain ends once both are written.
        #expect(state.handle(.releaseEnded, now: grace) == [])
        #expect(state.handle(.stoppedRunKept, now: grace) == [.finishDrain])
        #expect(state.lifecycle == .stopped)
    }

    @Test("Drain with nothing running finishes at once; a claim in flight is released when it returns")
    func drainWithClaimInFlight() {
        var state = started(concurrency: 1)
        #expect(state.handle(.drain(graceDeadline: now), now: now) == [.rearmTimer])
        #expect(state.handle(.claimed(queue: "default", jobs: [job(1)], limit: 1), now: now) == [.release([job(1)])])
        #expect(state.handle(.releaseEnded, now: now) == [.finishDrain])
    }

    @Test("A job that ends during the drain's grace is recorded as usual; a user's cancel is never released")
    func endsDuringGrace() {
        var state = started(concurrency: 2)
        _ = state.handle(.claimed(queue: "default", jobs: [job(1), job(2)], limit: 2), now: now)
        _ = state.handle(.drain(graceDeadline: now.advanced(by: .seconds(10))), now: now)
        #expect(state.handle(.runEnded(1, .exited(code: 3), abandoned: false), now: now) == [.record(started(job(1)), .exited(code: 3))])
        #expect(state.handle(.cancelled(2, queue: "default", previousState: .running), now: now) == [.stop(2)])
        #expect(state.handle(.recorded(1), now: now) == [])
        // Nothing left to run or record: the drain is over before its grace.
        #expect(state.handle(.runEnded(2, .cancelled(signal: 15), abandoned: false), now: now)
            == [.keepStoppedRun(started(job(2)), .failed(exitCode: nil, signal: 15, reason: "cancelled while running and was stopped"), usage: nil)])
        #expect(state.handle(.stoppedRunKept, now: now) == [.finishDrain])
        #expect(state.handle(.tick, now: now.advanced(by: .seconds(10))) == [.rearmTimer])
    }

    @Test("Concurrency: growing claims the new slots; shrinking lets running jobs finish")
    func concurrencyChanges() {
        var state = started(concurrency: 1)
        _ = state.handle(.claimed(queue: "default", jobs: [job(1)], limit: 1), now: now)
        #expect(state.handle(.concurrencyChanged("default", 3), now: now) == [.claim(queue: "default", limit: 2)])
        #expect(state.handle(.claimed(queue: "default", jobs: [job(2), job(3)], limit: 2), now: now)
            == [.run(started(job(2))), .run(started(job(3)))])
        #expect(state.handle(.concurrencyChanged("default", 1), now: now) == [])
        #expect(state.runningCount("default") == 3)
        // Ends free no slot until fewer than 1 run.
        #expect(state.handle(.runEnded(1, .exited(code: 0), abandoned: false), now: now) == [.record(started(job(1)), .exited(code: 0))])
        #expect(state.handle(.runEnded(2, .exited(code: 0), abandoned: false), now: now) == [.record(started(job(2)), .exited(code: 0))])
        #expect(state.handle(.runEnded(3, .exited(code: 0), abandoned: false), now: now)
            == [.record(started(job(3)), .exited(code: 0)), .claim(queue: "default", limit: 1)])
    }

    @Test("A run abandoned by the engine's cancellation records nothing")
    func abandoned() {
        var state = started(concurrency: 1)
        _ = state.handle(.claimed(queue: "default", jobs: [job(1)], limit: 1), now: now)
        #expect(state.handle(.runEnded(1, .cancelled(signal: 15), abandoned: true), now: now) == [.claim(queue: "default", limit: 1)])
        #expect(state.jobs.isEmpty)
    }

    @Test("Queues are made on first use with their configured concurrency, or the default")
    func queuesOnFirstUse() {
        var state = EngineState(defaultConcurrency: 3, configuredConcurrency: ["serial": 1])
        _ = state.handle(.started(queues: [], paused: []), now: now)
        #expect(state.handle(.workArrived(queues: ["serial", "fresh"]), now: now)
            == [.claim(queue: "fresh", limit: 3), .claim(queue: "serial", limit: 1)])
        // Before the start, nothing is claimed; the start claims it, with the queues it names.
        var early = EngineState(defaultConcurrency: 1)
        #expect(early.handle(.workArrived(queues: ["early"]), now: now) == [])
        #expect(early.handle(.started(queues: ["default"], paused: []), now: now)
            == [.claim(queue: "default", limit: 1), .claim(queue: "early", limit: 1)])
    }
}

@Suite("WaitRegistry")
struct WaitRegistryTests {
    @Test("A count read before a join registered does not resolve it; the joins before it resolve")
    func countBeforeJoin() {
        var registry = WaitRegistry()
        _ = registry.addJoin(queue: "default")
        let counting = registry.needsRecheck(queueStillRuns: false)
        #expect(counting)
        // A join registers while that count is being read (it reads the counts itself).
        _ = registry.addJoin(queue: "default")
        let (done, again) = registry.countsRead([])
        #expect(done.count == 1)
        #expect(!again)
    }
}
