import Foundation
import JobClient
import JobModel
import JobRunner

/// What `jobq work` does: slots that lease a job, run the command for it while extending the
/// lease, and complete or fail the job by the command's exit status; signals that stop it.
struct WorkLoop: Sendable {
    struct Settings: Sendable {
        var queue: String
        var command: [String]
        var shell: Bool
        var leaseSeconds: Double
        var consumer: String
        var maxJobs: Int?
        var reconnect: Duration
    }

    /// How a command's run ended, for the job's report.
    enum Ending: Sendable {
        case exited(Int32)
        case signalled(Int32)
        case leaseLost(String)
        case spawnFailed(String)
    }

    let client: JobClient
    let settings: Settings
    let state = WorkState()

    /// Runs `slots` slots until a signal stops them or `--max-jobs` jobs are done.
    func run(slots: Int) async throws {
        let signals = SignalWatch(signals: [SIGTERM, SIGINT])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var seen = 0
                for await number in signals.stream {
                    seen += 1
                    if seen == 1 {
                        printError("jobq work: \(number == SIGINT ? "interrupted" : "asked to stop"): leasing no more; "
                            + "the running commands finish (again to stop them and give their jobs back)")
                        await state.stop()
                    } else {
                        printError("jobq work: stopping the running commands; their jobs go back to the queue")
                        await state.abort()
                        return
                    }
                }
            }
            try await withThrowingTaskGroup(of: Void.self) { slotsGroup in
                for _ in 0..<slots { slotsGroup.addTask { try await slot() } }
                try await slotsGroup.waitForAll()
            }
            signals.finish()
            group.cancelAll()
        }
    }

    /// One slot: lease, run, report, until stopped. A job whose command succeeded is completed
    /// by the next lease request, in its transaction (one commit a job), or at the end.
    private func slot() async throws {
        var done: (job: Job, token: LeaseToken)?
        while await state.reserve(maxJobs: settings.maxJobs) {
            let answer: LeaseResponse
            let completing = done.map { [CompleteManyRequest.Item(token: $0.token)] } ?? []
            do {
                answer = try await state.unlessStopped {
                    try await client.reconnecting(within: settings.reconnect) {
                        try await client.lease(queue: settings.queue, max: 1, waitSeconds: LeaseRequest.longestWait,
                                               leaseSeconds: settings.leaseSeconds, consumer: settings.consumer, completing: completing)
                    }
                }
            } catch is CancellationError {
                await state.unreserve()
                break  // `done`, if any, is completed below (again, if the cancelled request had: no harm)
            }
            if let finished = done {
                if let error = answer.completed?.first?.error { printError("jobq work: job \(finished.job.id): \(error.message)") }
                done = nil
            }
            guard let job = answer.jobs.first, let token = job.lease?.token else {
                await state.unreserve()
                continue
            }
            let ending = await runCommand(for: job, token: token)
            if case .exited(0) = ending, await !state.aborting {
                done = (job, token)
            } else {
                try await report(ending, job: job, token: token)
            }
        }
        if let finished = done { try await report(.exited(0), job: finished.job, token: finished.token) }
    }

    /// Runs the command for `job`, extending its lease until the command ends.
    private func runCommand(for job: Job, token: LeaseToken) async -> Ending {
        let argv = settings.shell ? ["/bin/sh", "-c", settings.command.joined(separator: " ")] : settings.command
        var environment = ProcessInfo.processInfo.environment
        environment["JOBQ_JOB_ID"] = "\(job.id)"
        environment["JOBQ_QUEUE"] = job.spec.queue
        environment["JOBQ_ATTEMPT"] = "\(job.attempts)"
        environment["JOBQ_RUN"] = "\(job.runs)"
        environment["JOBQ_LEASE_TOKEN"] = "\(token)"
        environment["JOBQ_CONSUMER"] = settings.consumer
        let command: ForegroundCommand
        do {
            command = try ForegroundCommand.start(argv: argv, environment: environment,
                                                  input: Array(DisplayText.command(job.spec.command).utf8) + [UInt8(ascii: "\n")])
        } catch {
            return .spawnFailed("\(error)")
        }
        await state.started(command)
        // The lease is extended until the command exits; a lost lease stops the command.
        let (ending, lost) = await withTaskGroup(of: String?.self) { group in
            group.addTask {
                let lost = await keepLease(token)
                if lost != nil { command.terminate() }
                return lost
            }
            let ending = await command.ending()
            group.cancelAll()
            var lost: String?
            for await reason in group { lost = lost ?? reason }
            return (ending, lost)
        }
        await state.ended(command)
        if let lost { return .leaseLost(lost) }
        switch ending {
        case .exited(let status): return .exited(status)
        case .signalled(let number): return .signalled(number)
        }
    }

    /// Extends the lease every third of its length; returns why it was lost, or never returns
    /// until cancelled (then `nil`).
    private func keepLease(_ token: LeaseToken) async -> String? {
        let every = Duration.milliseconds(Int64(settings.leaseSeconds * 1000 / 3))
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: every)
                _ = try await client.reconnecting(within: settings.reconnect) {
                    try await client.heartbeat(token, leaseSeconds: settings.leaseSeconds)
                }
            } catch JobClientError.refused(_, let code, let message) where code == "lease_lost" || code == "not_found" {
                return message
            } catch is CancellationError {
                return nil
            } catch {
                printError("jobq work: cannot extend the lease of job \(token.job): \(error); trying again")
            }
        }
        return nil
    }

    /// Completes, fails or gives back the job by how its command ended.
    private func report(_ ending: Ending, job: Job, token: LeaseToken) async throws {
        let call: @Sendable () async throws -> Job
        if case .exited(0) = ending {
            call = { try await client.complete(token) }
        } else if await state.aborting {
            call = { try await client.release(token) }
        } else {
            switch ending {
            case .exited(0): call = { try await client.complete(token) }
            case .exited(let status): call = { try await client.fail(token, error: "the command exited with status \(status)") }
            case .signalled(let number): call = { try await client.fail(token, error: "the command was killed by signal \(number)") }
            case .spawnFailed(let reason): call = { try await client.fail(token, error: reason) }
            case .leaseLost(let why):
                printError("jobq work: job \(job.id): \(why); its command was stopped")
                return
            }
        }
        do {
            _ = try await client.reconnecting(within: settings.reconnect, call)
        } catch JobClientError.refused(_, "lease_lost", let message) {
            printError("jobq work: job \(job.id): \(message)")
        }
    }
}
