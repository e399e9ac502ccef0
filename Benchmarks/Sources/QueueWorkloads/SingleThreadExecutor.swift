import DequeModule
import Foundation

/// A task executor that runs every job on one dedicated thread, as an asyncio event loop runs
/// every coroutine on one thread. Tasks started under
/// `withTaskExecutorPreference(executor)` run here, and so does the code of default actors
/// (such as `AsyncQueue`) that they call (SE-0417), so actor hops cost a local enqueue rather
/// than a cross-thread wake-up.
public final class SingleThreadExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked Sendable: `jobs` and `stopped` are only touched while `condition` is locked;
    // `thread` is set once in init before the object is shared.
    private let condition = NSCondition()
    private var jobs = Deque<UnownedJob>()
    private var stopped = false
    private var thread: Thread?

    public init(name: String = "single-thread-executor") {
        let thread = Thread { [unowned self] in self.runLoop() }
        thread.name = name
        self.thread = thread
        thread.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        if jobs.count == 1 { condition.signal() }
        condition.unlock()
    }

    /// Stops the thread once the jobs enqueued so far have run.
    public func shutdown() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func runLoop() {
        let executor = asUnownedTaskExecutor()
        while true {
            condition.lock()
            while jobs.isEmpty && !stopped { condition.wait() }
            guard let job = jobs.popFirst() else {
                condition.unlock()
                return
            }
            condition.unlock()
            job.runSynchronously(on: executor)
        }
    }
}
