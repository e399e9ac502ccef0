import JobModel
import JobQueueTesting
@testable import JobStore
import JobStoring
import Testing

@Suite("Dependencies", .timeLimit(.minutes(1)))
struct DependencyTests {
    func after(_ ids: JobID...) -> JobSpec {
        var spec = spec()
        spec.after = ids
        return spec
    }

    func runToEnd(_ store: JobStore, _ id: JobID, _ completion: JobCompletion) async throws {
        let claimed = try await store.claim(queue: "default", limit: 1000)
        #expect(claimed.contains { $0.id == id })
        _ = try await store.finish(id, completion)
        for other in claimed where other.id != id { _ = try await store.release(other.id) }
    }

    @Test("A blocked job is queued once every job it runs after has succeeded")
    func unblockOnSuccess() async throws {
        try await withStore { store, _ async throws in
            let a = try await store.add(spec())
            let b = try await store.add(spec())
            let c = try await store.add(after(a.id, b.id))
            #expect(c.state == .blocked)
            try await runToEnd(store, a.id, .succeeded)
            #expect(try await store.existing(c.id).state == .blocked)
            let claimed = try await store.claim(queue: "default", limit: 10)
            #expect(claimed.map(\.id) == [b.id])
            let finished = try await store.finish(b.id, .succeeded)
            #expect(finished.unblocked == [c.id])
            #expect(finished.failedDependents.isEmpty)
            #expect(try await store.existing(c.id).state == .queued)
            #expect(try await store.claim(queue: "default").map(\.id) == [c.id])
        }
    }

    @Test("When a dependency fails, its dependents fail down the chain, each naming the job before it")
    func failDownTheChain() async throws {
        try await withStore { store, _ async throws in
            let a = try await store.add(spec())
            let b = try await store.add(after(a.id))
            let c = try await store.add(after(b.id))
            let unrelated = try await store.add(spec())
            _ = try await store.claim(queue: "default", limit: 1)
            let finished = try await store.finish(a.id, .failed(exitCode: 1, signal: nil, reason: "exited with status 1"))
            #expect(finished.failedDependents == [b.id, c.id])
            #expect(finished.unblocked.isEmpty)
            let bJob = try await store.existing(b.id)
            let cJob = try await store.existing(c.id)
            #expect(bJob.state == .failed)
            #expect(bJob.error == "job \(a.id), which this job runs after, failed")
            #expect(cJob.state == .failed)
            #expect(cJob.error == "job \(b.id), which this job runs after, failed")
            #expect(try await store.existing(unrelated.id).state == .queued)
        }
    }

    @Test("Cancelling a job fails the jobs that run after it")
    func cancelFailsDependents() async throws {
        try await withStore { store, _ async throws in
            let a = try await store.add(spec())
            let b = try await store.add(after(a.id))
            #expect(try await store.cancel(a.id).failedDependents == [b.id])
            let job = try await store.existing(b.id)
            #expect(job.state == .failed)
            #expect(job.error == "job \(a.id), which this job runs after, was cancelled")
            // A blocked job can itself be cancelled.
            let c = try await store.add(spec())
            let d = try await store.add(after(c.id))
            #expect(try await store.cancel(d.id).previousState == .blocked)
        }
    }

    @Test("A job submitted after a job that already failed is stored failed, naming it")
    func submitAfterFailed() async throws {
        try await withStore { store, _ async throws in
            let a = try await store.add(spec())
            try await runToEnd(store, a.id, .failed(exitCode: 3, signal: nil, reason: "exited with status 3"))
            let b = try await store.add(after(a.id))
            #expect(b.state == .failed)
            #expect(b.error == "job \(a.id), which this job runs after, failed")
            #expect(try await store.existing(b.id) == b)
        }
    }

    @Test("requeue of a dependent: refused while its dependency is failed, blocked while it reruns")
    func requeueDependent() async throws {
        try await withStore { store, _ async throws in
            let a = try await store.add(spec())
            let b = try await store.add(after(a.id))
            try await runToEnd(store, a.id, .failed(exitCode: 1, signal: nil, reason: "exited with status 1"))
            await expectStoreError(.conflict(b.id, "it runs after job \(a.id), which is failed; retry that one first")) {
                try await store.requeue(b.id)
            }
            _ = try await store.requeue(a.id)
            #expect(try await store.requeue(b.id).state == .blocked)
            try await runToEnd(store, a.id, .succeeded)
            #expect(try await store.existing(b.id).state == .queued)
        }
    }
}
