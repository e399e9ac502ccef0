import AsyncQueues
import JobBasics
import JobModel
import JobRunner
import JobStore
import Logging

/// How the engine's actor carries out ``EngineState``'s actions: each effect that waits (a
/// claim, a run, a record, a release, a count) is a child task of ``JobEngine/run()`` that
/// reports back through the inbox.
extension JobEngine {
    /// Decides on `input` now (on the actor); the run loop carries the actions out.
    func decide(_ input: EngineInput) {
        let actions = handle(input)
        if !actions.isEmpty { inbox.yield(.execute(actions)) }
    }

    /// Hands `input` to the state, the wake board following its paused queues.
    private func handle(_ input: EngineInput) -> [EngineAction] {
        noteLifecycle(of: input)
        return state.handle(input, now: clock.now())
    }

    /// Keeps the wake board's paused queues as the state's.
    private func noteLifecycle(of input: EngineInput) {
        switch input {
        case .started(_, let paused): wakes.withLock { $0.paused = paused }
        case .paused(let name): wakes.withLock { _ = $0.paused.insert(name) }
        case .resumed(let name): wakes.withLock { _ = $0.paused.remove(name) }
        default: break
        }
    }

    /// Handles one message of the inbox. Returns `true` once the drain is done.
    func apply(_ message: EngineMessage, in group: inout DiscardingTaskGroup) async -> Bool {
        switch message {
        case .input(let input):
            switch input {
            case .claimed(_, let jobs, _):
                claimedCount += jobs.count
                for signal in claimObservers.reached(claimedCount) { try? await signal.putNowait(()) }
            case .runEnded(let id, _, _):
                stops[id] = nil
            case .drain(let deadline):
                logger.info("draining: no more claims; running jobs get the grace period",
                            metadata: ["grace": "\(clock.now().duration(to: deadline))"])
            default:
                break
            }
            return execute(handle(input), in: &group)
        case .wake:
            let queues = wakes.withLock { $0.take() }
            if queues.isEmpty { return false }
            return execute(state.handle(.workArrived(queues: queues), now: clock.now()), in: &group)
        case .execute(let actions):
            return execute(actions, in: &group)
        case .terminal(let ids, let queue):
            for signal in waits.resolve(ids) { try? await signal.putNowait(()) }
            if waits.needsRecheck(queueStillRuns: queue.map(state.hasUncancelledRun(in:)) ?? false) {
                countForJoins(in: &group)
            }
            return false
        case .joinCounts(let counts):
            let (done, again) = waits.countsRead(counts)
            for signal in done { try? await signal.putNowait(()) }
            if again { countForJoins(in: &group) }
            return false
        }
    }

    private func countForJoins(in group: inout DiscardingTaskGroup) {
        group.addTask { [store, inbox] in inbox.yield(.joinCounts(try? await store.counts())) }
    }

    /// Carries out actions; `true` when one of them ends the drain.
    private func execute(_ actions: [EngineAction], in group: inout DiscardingTaskGroup) -> Bool {
        var finished = false
        for action in actions {
            switch action {
            case .claim(let queue, let limit):
                group.addTask { [store, inbox, clock, logger, configuration] in
                    do {
                        let jobs = try await store.claim(queue: queue, limit: limit)
                        inbox.yield(.input(.claimed(queue: queue, jobs: jobs, limit: limit)))
                    } catch {
                        logger.error("cannot claim jobs", metadata: ["queue": "\(queue)", "error": "\(error)"])
                        let retryAt = clock.now().advanced(by: configuration.storeRetryDelay)
                        inbox.yield(.input(.claimFailed(queue: queue, retryAt: retryAt)))
                    }
                }
            case .findNextRunAt(let queue):
                group.addTask { [store, inbox, clock] in
                    let next = try? await store.nextRunAt(queue: queue, after: clock.now())
                    inbox.yield(.input(.nextRunAt(queue: queue, next ?? nil)))
                }
            case .run(let job):
                let stop = RunStop()
                stops[job.id] = stop
                hub.publish(.started(job))
                group.addTask { [executor, inbox] in
                    let outcome = await executor.run(job, stop: stop)
                    inbox.yield(.input(.runEnded(job.id, outcome, abandoned: Task.isCancelled)))
                }
            case .stop(let id):
                if case .draining = state.lifecycle {
                    logger.warning("grace period over: stopping a running job", metadata: ["job": "\(id)"])
                }
                stops[id]?.request()
            case .record(let job, let outcome):
                group.addTask { await self.record(outcome, of: job) }
            case .release(let jobs):
                group.addTask { await self.release(jobs) }
            case .rearmTimer:
                timerBell.ring()
            case .finishDrain:
                finished = true
            }
        }
        return finished
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
                    inbox.yield(.input(.tick))
                    await timerBell.wait()  // the tick's actions rearm it
                }
            } else {
                await timerBell.wait()
            }
        }
    }

    /// Records a run's outcome: success, a retry after the job's backoff, or a failure once its
    /// attempts are spent; then tells waits and joins, and the state.
    nonisolated func record(_ outcome: JobOutcome, of job: Job) async {
        // Built only by a message that is logged (swift-log takes metadata as an autoclosure):
        // at the default level, a success logs nothing.
        func metadata() -> Logger.Metadata { ["job": "\(job.id)", "queue": "\(job.spec.queue)", "outcome": "\(outcome)"] }
        let terminal = await recordTerminal(outcome, of: job, metadata: metadata)
        // The state first, so that a waiter resumed by the terminal state finds it settled.
        inbox.yield(.input(.recorded(job.id)))
        if let terminal { inbox.yield(.terminal(terminal.ids, queue: terminal.queue)) }
    }

    /// Writes the outcome; returns the jobs that became terminal (and their queue when one).
    private nonisolated func recordTerminal(
        _ outcome: JobOutcome, of job: Job, metadata: () -> Logger.Metadata
    ) async -> (ids: [JobID], queue: String?)? {
        do {
            if outcome.isSuccess {
                let finished = try await store.finish(job.id, .succeeded, startedAt: job.startedAt, spec: job.spec)
                hub.publish(.finished(finished.job))
                if !finished.unblocked.isEmpty { inbox.yield(.input(.dependentsReady)) }
                logger.debug("job succeeded", metadata: metadata())
                return ([job.id], job.spec.queue)
            }
            if job.hasAttemptsLeft, case let .failed(exitCode, signal, reason) = outcome.completion {
                let at = clock.now().advanced(by: job.spec.retry.backoff(afterFailedAttempts: job.attempts))
                let queued = try await store.scheduleRetry(
                    job.id, at: at, exitCode: exitCode, signal: signal, reason: reason, startedAt: job.startedAt, spec: job.spec)
                hub.publish(.requeued(queued))
                inbox.yield(.input(.workArrived(queues: [job.spec.queue])))
                logger.info("job failed; it will run again", metadata: metadata().merging(["at": "\(at)"]) { $1 })
                return nil
            }
            let finished = try await store.finish(job.id, outcome.completion, startedAt: job.startedAt, spec: job.spec)
            hub.publish(.finished(finished.job))
            await publishFinished(finished.failedDependents)
            logger.info("job failed", metadata: metadata())
            return ([job.id] + finished.failedDependents, nil)
        } catch JobStoreError.illegalTransition(_, from: .cancelled, to: _) {
            // A user cancelled the job after its run had ended, before its outcome was recorded:
            // the cancel committed first, and the job stays cancelled.
            logger.info("job cancelled while its outcome was being recorded", metadata: metadata())
        } catch {
            logger.error("cannot record a job's outcome; it stays running until the next start requeues it",
                         metadata: metadata().merging(["error": "\(error)"]) { $1 })
        }
        return nil
    }

    /// Gives claimed jobs that never started (or runs the drain stopped) back to the store.
    nonisolated func release(_ jobs: [Job]) async {
        for job in jobs {
            do {
                let released = try await store.release(job.id, spec: job.spec)
                hub.publish(.requeued(released))
            } catch {
                // Cancelled meanwhile (no longer running) or the store failed: recovery at the
                // next start puts a job still marked running back.
                logger.debug("claimed job not released", metadata: ["job": "\(job.id)", "error": "\(error)"])
            }
        }
        inbox.yield(.input(.releaseEnded))
    }
}
