import DequeModule
import Foundation
import Synchronization

/// A task executor that runs every job on one dedicated thread, as an asyncio event loop runs
/// every coroutine on one thread. `queue-throughput --executor single` installs it as the
/// process's default executor, so every task, and the code of the default actors (such as
/// `AsyncQueue`) that they call, runs here: an actor hop or a resumed continuation costs a
/// local enqueue rather than a cross-thread wake-up.
///
/// Like an event loop's `call_soon` beside `call_soon_threadsafe`, a job enqueued from the
/// executor's own thread goes to a queue only that thread touches, without a lock; jobs from
/// other threads take the locked queue and wake the thread when it sleeps.
public final class SingleThreadExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked Sendable: `local` is only touched on the executor's thread (`enqueue` checks
    // `loopThread`, which that thread sets before it runs any job and nothing else sets);
    // `remote` and `idle` only while `condition` is locked.
    //
    // @exclusivity(unchecked) on the two queues: the runtime's dynamic exclusivity checks
    // (swift_beginAccess/endAccess) were ~3.5 % of the samples. Accesses never overlap: each
    // is a single append, popFirst or swap that ends before a job runs, on one thread (`local`)
    // or under the lock (`remote`).
    @exclusivity(unchecked) private var local = Deque<UnownedJob>()
    private let loopThread = Atomic<UInt>(0)
    private let condition = NSCondition()
    @exclusivity(unchecked) private var remote = Deque<UnownedJob>()
    private var idle = false

    public init(name: String = "single-thread-executor") {
        let thread = Thread { [unowned self] in self.runLoop() }
        thread.name = name
        thread.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if pthread_self() == loopThread.load(ordering: .relaxed) {
            local.append(job)
            return
        }
        condition.lock()
        remote.append(job)
        if idle { condition.signal() }
        condition.unlock()
    }

    /// Runs the local jobs in order (including those they enqueue), then takes every job
    /// enqueued from other threads at once; sleeps when both are empty. It never stops: the
    /// executor serves the whole process.
    private func runLoop() {
        loopThread.store(pthread_self(), ordering: .relaxed)
        let executor = asUnownedTaskExecutor()
        while true {
            while let job = local.popFirst() {
                job.runSynchronously(on: executor)
            }
            condition.lock()
            while remote.isEmpty {
                idle = true
                condition.wait()
                idle = false
            }
            swap(&local, &remote)
            condition.unlock()
        }
    }
}
