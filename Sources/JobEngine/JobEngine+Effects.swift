import AsyncQueues
import JobBasics
import JobModel
import JobRunner
import JobStoring
import Logging

/// How the engine carries out ``EngineState``'s actions: on the thread that handed in the
/// input, with completion handlers that hand the next input in from the store's writer or
/// reader thread and the launcher's thread. No effect is a task.
extension JobEngine {
    /// The decisions as they stand (tests, and the actor's own reads).
    var state: EngineState { core.withLock { $0.state } }

    /// Hands `input` to the state under the lock, then carries the actions out on this thread.
    nonisolated func decide(_ input: EngineInput) {
        var resumed: [CheckedContinuation<Void, Never>] = []
        let (actions, stops) = core.withLock { core -> ([EngineAction], [JobID: RunStop]) in
            var input = input
            switch input {
            case .runEnded(let id, let outcome, let usage, _):
                core.stops[id] = nil
                if core.abandoning { input = .runEnded(id, outcome, usage: usage, abandoned: true) }
            default:
                break
            }
            let actions = core.state.handle(input, now: clock.now())
            var stops: [JobID: RunStop] = [:]
            for case .run(let job) in actions {
                let stop = RunStop()
                core.stops[job.id] = stop
                stops[job.id] = stop
            }
            if core.abandoning, !core.state.isRunningAnything, let waiter = core.idleWaiter {
                core.idleWaiter = nil
                resumed.append(waiter)
            }
            return (actions, stops)
        }
        for continuation in resumed { continuation.resume() }
        execute(actions, stops: stops)
    }

    /// Carries out actions; `stops` holds the stop signal of each run among them.
    private nonisolated func execute(_ actions: [EngineAction], stops: [JobID: RunStop]) {
        for action in actions {
            switch action {
            case .claim(let queue, let limit):
                store.claim(queue: queue, limit: limit, policy: configuration.claimPolicy(for: queue)) { [self] result in
                    switch result {
                    case .success(let claim):
                        decide(.claimed(queue: queue, jobs: claim.jobs, limit: limit, more: claim.more, passedOverAt: claim.passedOverAt))
                    case .failure(let error):
                        logger.error("cannot claim jobs", metadata: ["queue": "\(queue)", "error": "\(error)"])
                        decide(.claimFailed(queue: queue, retryAt: clock.now().advanced(by: configuration.storeRetryDelay)))
                    }
                }
            case .findNextRunAt(let queue, let after):
                // Every queued job's, not only the future ones: a job whose time came after the
                // claim looked is due at once, and the timer fires for it.
                store.nextRunAt(queue: queue, after: after ?? Timestamp(millisecondsSinceEpoch: .min)) { [self] result in
                    decide(.nextRunAt(queue: queue, (try? result.get()) ?? nil))
                }
            case .run(let job):
                guard let stop = stops[job.id] else { continue }
                hub.publish(.started(job))
                executor.start(job, stop: stop) { [self] end in
                    decide(.runEnded(job.id, end.outcome, usage: end.usage, abandoned: false))
                }
            case .stop(let id):
                if case .draining = core.withLock({ $0.state.lifecycle }) {
                    logger.warning("grace period over: stopping a running job", metadata: ["job": "\(id)"])
                }
                core.withLock { $0.stops[id] }?.request()
            case .record(let job, let outcome, let usage):
                record(outcome, usage: usage, of: job)
            case .release(let jobs):
                release(jobs[...])
            case .keepStoppedRun(let job, let end, let usage):
                store.keepStoppedRun(of: job, end, usage: usage) { [self] result in
                    if case .failure(let error) = result {
                        logger.debug("a stopped run is not in its job's history", metadata: ["job": "\(job.id)", "error": "\(error)"])
                    }
                    decide(.stoppedRunKept)
                }
            case .rearmTimer:
                timerBell.ring()
            case .finishDrain:
                inbox.yield(.drained)
            case .expireLeases:
                expireLeases()
            }
        }
    }

    /// Records a run's outcome: success, a retry after the job's backoff, or a failure once its
    /// attempts are spent; then tells the state, and waits and joins.
    private nonisolated func record(_ outcome: JobOutcome, usage: RunUsage?, of job: Job) {
        // Built only by a message that is logged (swift-log takes metadata as an autoclosure):
        // at the default level, a success logs nothing.
        let metadata: @Sendable () -> Logger.Metadata = {
            ["job": "\(job.id)", "queue": "\(job.spec.queue)", "outcome": "\(outcome)"]
        }
        if outcome.isSuccess {
            store.finish(job.id, .succeeded, startedAt: job.startedAt, usage: usage, spec: job.spec, run: job.runs) { [self] result in
                guard case .success(let finished) = result else { return recordFailed(result, of: job, metadata: metadata) }
                hub.publish(.finished(finished.job))
                if !finished.unblocked.isEmpty { dependentsReady() }
                logger.debug("job succeeded", metadata: metadata())
                recorded(job, terminal: [job.id], queue: job.spec.queue)
            }
        } else if job.hasAttemptsLeft, case let .failed(exitCode, signal, reason) = outcome.completion {
            let at = clock.now().advanced(by: job.spec.retry.backoff(afterFailedAttempts: job.attempts))
            store.scheduleRetry(job.id, at: at, exitCode: exitCode, signal: signal, reason: reason,
                                startedAt: job.startedAt, usage: usage, spec: job.spec, run: job.runs) { [self] result in
                guard case .success(let queued) = result else { return recordFailed(result, of: job, metadata: metadata) }
                hub.publish(.requeued(queued))
                logger.info("job failed; it will run again", metadata: metadata().merging(["at": "\(at)"]) { $1 })
                decide(.workArrived(queues: [job.spec.queue]))
                recorded(job, terminal: [], queue: nil)
            }
        } else {
            store.finish(job.id, outcome.completion, startedAt: job.startedAt, usage: usage, spec: job.spec, run: job.runs) { [self] result in
                guard case .success(let finished) = result else { return recordFailed(result, of: job, metadata: metadata) }
                hub.publish(.finished(finished.job))
                if !finished.failedDependents.isEmpty { inbox.yield(.publishFinished(finished.failedDependents)) }
                logger.info("job failed", metadata: metadata())
                recorded(job, terminal: [job.id] + finished.failedDependents, queue: nil)
            }
        }
    }

    /// A record that did not commit: the job stays as the store has it.
    private nonisolated func recordFailed<T>(
        _ result: Result<T, JobStoreError>, of job: Job, metadata: () -> Logger.Metadata
    ) {
        switch result {
        case .failure(.illegalTransition(_, from: .cancelled, to: _)):
            // A user cancelled the job after its run had ended, before its outcome was recorded:
            // the cancel committed first, and the job stays cancelled.
            logger.info("job cancelled while its outcome was being recorded", metadata: metadata())
        case .failure(let error):
            logger.error("cannot record a job's outcome; it stays running until the next start requeues it",
                         metadata: metadata().merging(["error": "\(error)"]) { $1 })
        case .success:
            break
        }
        recorded(job, terminal: [], queue: nil)
    }

    /// The state first, so that a waiter resumed by the terminal state finds it settled.
    private nonisolated func recorded(_ job: Job, terminal: [JobID], queue: String?) {
        decide(.recorded(job.id))
        if !terminal.isEmpty { tellWaiters(terminal, queue: queue) }
    }

    /// Tells the actor that jobs became terminal, when a wait or a join may care.
    nonisolated func tellWaiters(_ ids: [JobID], queue: String?) {
        if core.withLock({ $0.mustTellWaiters(aboutQueue: queue) }) { inbox.yield(.terminal(ids, queue: queue)) }
    }

    /// Gives claimed jobs that never started (or runs the drain stopped) back to the store, one
    /// after the other.
    private nonisolated func release(_ jobs: ArraySlice<Job>) {
        guard let job = jobs.first else { return decide(.releaseEnded) }
        store.release(job.id, spec: job.spec, run: job.runs) { [self] result in
            switch result {
            case .success(let released):
                hub.publish(.requeued(released))
            case .failure(let error):
                // Cancelled meanwhile (no longer running) or the store failed: recovery at the
                // next start puts a job still marked running back.
                logger.debug("claimed job not released", metadata: ["job": "\(job.id)", "error": "\(error)"])
            }
            release(jobs.dropFirst())
        }
    }

    /// The engine's task was cancelled (not drained): stops every running command and returns
    /// once none runs; their runs are abandoned (the next start requeues them).
    func abandonRuns() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let stops = core.withLock { core -> [RunStop]? in
                core.abandoning = true
                guard core.state.isRunningAnything else { return nil }
                core.idleWaiter = continuation
                return Array(core.stops.values)
            }
            guard let stops else { return continuation.resume() }
            for stop in stops { stop.request() }
        }
    }

    /// The engine's one timer: waits for ``EngineState/nextDeadline`` (a queue's next `run_at`,
    /// a claim to try again, the drain's grace) or for it to change, and ticks when it comes.
    func runTimer() async {
        while !Task.isCancelled {
            if let deadline = state.nextDeadline {
                if deadline > clock.now() {
                    let (clock, bell) = (self.clock, timerBell)
                    await withTaskGroup(of: Void.self) { race in
                        race.addTask { await bell.wait() }
                        race.addTask { try? await clock.sleep(until: deadline) }
                        await race.next()
                        race.cancelAll()
                    }
                }
                if let due = state.nextDeadline, due <= clock.now() {
                    decide(.tick)
                    await timerBell.wait()  // the tick's actions rearm it
                }
            } else {
                await timerBell.wait()
            }
        }
    }
}
