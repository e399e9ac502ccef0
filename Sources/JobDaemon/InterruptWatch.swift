import JobEngine
import Logging
import ServiceLifecycle
import UnixSignals

/// Ctrl-C (SIGINT) for a jobqd on a terminal: the first one starts the graceful shutdown and
/// says what the drain waits for; a second one ends the grace at once, so that the running jobs
/// are stopped and run again at the next start. It alone traps SIGINT (the group traps SIGTERM),
/// and, first in the group, it is the last service told to stop: it listens until the engine
/// has drained.
struct InterruptWatch: Service {
    let engine: JobEngine
    let grace: Duration
    /// Starts the group's graceful shutdown (the group is made after its services).
    let shutDown: @Sendable () async -> Void
    let logger: Logger

    func run() async throws {
        let interrupts = await UnixSignalsSequence(trapping: .sigint)
        var count = 0
        for await _ in interrupts.cancelOnGracefulShutdown() {
            count += 1
            if count == 1 {
                await shutDown()
                let held = engine.heldJobs
                say(held == 0
                    ? "jobqd: stopping (no job runs)"
                    : "jobqd: draining: waiting up to \(grace) for \(held) running job\(held == 1 ? "" : "s") to finish; "
                        + "Ctrl-C again stops them now (they run again at the next start)")
            } else if count == 2 {
                say("jobqd: stopping the running jobs now; they run again at the next start")
                await engine.endGraceNow()
            }
        }
    }

    /// In the log, which is stderr: on a terminal, a line the person who pressed Ctrl-C reads.
    private func say(_ line: String) {
        logger.notice("\(line)")
    }
}
