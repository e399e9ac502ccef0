import Dispatch
import NIOConcurrencyHelpers
import NIOCore

/// A Swift `TaskExecutor` that runs jobs on one NIO event loop.
///
/// A connection's task prefers the executor of its channel's event loop, so that a request
/// travels from the socket to the handler and back without leaving that thread: the bytes NIO
/// reads resume the handler on the same loop (after the current I/O tick, no wake-up), and the
/// response the handler writes goes straight into the channel. Without it every request crossed
/// twice between the loop and Swift's global pool, and on a 2-core VM each crossing (a futex
/// wake and a context switch) cost more than the handler itself.
///
/// Code that blocks must not run here; the store already runs its SQLite work on its own
/// dispatch queues and resumes the caller when done.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}

/// Runs system calls that may wait for the disk (reading a log, unlinking files) on a
/// dispatch queue and resumes the caller with the result, so that a handler running on its
/// connection's event loop never holds up the loop's other connections.
enum OffLoop {
    private static let queue = DispatchQueue(label: "jobq.api.files", attributes: .concurrent)

    static func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: work()) }
        }
    }
}
