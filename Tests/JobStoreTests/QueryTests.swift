import JobModel
import JobQueueTesting
@testable import JobStore
import JobStoring
import Testing

@Suite("Queries and pruning", .timeLimit(.minutes(1)))
struct QueryTests {
    @Test("Listing filters by state, queue and label, and pages by id in both directions")
    func listing() async throws {
        try await withStore { store, _ async throws in
            var ids: [JobID] = []
            for index in 0..<25 {
                var job = spec(queue: index % 2 == 0 ? "even" : "odd")
                job.label = index % 5 == 0 ? "fives" : nil
                ids.append(try await store.add(job).id)
            }
            _ = try await store.claim(queue: "even", limit: 3)  // ids[0], ids[2], ids[4] running

            var seen: [JobID] = []
            var cursor: JobID?
            repeat {
                let page = try await store.jobs(after: cursor, limit: 7)
                #expect(page.jobs.count <= 7)
                seen += page.jobs.map(\.id)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(seen == ids)

            seen = []
            cursor = nil
            repeat {
                let page = try await store.jobs(after: cursor, limit: 10, order: .descending)
                seen += page.jobs.map(\.id)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(seen == ids.reversed())

            let odd = try await store.jobs(matching: JobFilter(queue: "odd"), limit: 100).jobs
            #expect(odd.map(\.id) == stride(from: 1, to: 25, by: 2).map { ids[$0] })
            let running = try await store.jobs(matching: JobFilter(states: [.running]), limit: 100).jobs
            #expect(running.map(\.id) == [ids[0], ids[2], ids[4]])
            let fives = try await store.jobs(matching: JobFilter(label: "fives"), limit: 100).jobs
            #expect(fives.map(\.id) == [0, 5, 10, 15, 20].map { ids[$0] })
            let combined = try await store.jobs(
                matching: JobFilter(states: [.queued, .running], queue: "even", label: "fives"), limit: 100).jobs
            #expect(combined.map(\.id) == [0, 10, 20].map { ids[$0] })
            #expect(try await store.jobs(matching: JobFilter(states: []), limit: 100).jobs.isEmpty)
            // A page that ends exactly at the last job says there is no next page.
            #expect(try await store.jobs(matching: JobFilter(label: "fives"), limit: 5).nextCursor == nil)
        }
    }

    @Test("Counts by queue and state follow every change")
    func counts() async throws {
        try await withStore { store, _ async throws in
            let ids = try await store.insert((0..<6).map { spec(queue: $0 < 4 ? "a" : "b") }).map(\.job.id)
            var dependent = spec(queue: "b")
            dependent.after = [ids[5]]
            _ = try await store.add(dependent)
            let claimed = try await store.claim(queue: "a", limit: 3)
            _ = try await store.finish(claimed[0].id, .succeeded)
            _ = try await store.finish(claimed[1].id, .failed(exitCode: 1, signal: nil, reason: "x"))
            _ = try await store.cancel(ids[4])
            let counts = try await store.counts()
            #expect(counts.map(\.queue) == ["a", "b"])
            #expect(counts[0].counts == [.succeeded: 1, .failed: 1, .running: 1, .queued: 1])
            #expect(counts[1].counts == [.cancelled: 1, .queued: 1, .blocked: 1])
            #expect(counts[0].total == 4)
        }
    }

    @Test("Pruning deletes only terminal jobs finished before the cutoff, in batches, with their paths")
    func pruning() async throws {
        try await withStore { store, clock async throws in
            let ids = try await store.insert((0..<10).map { _ in spec() }).map(\.job.id)
            let claimed = try await store.claim(queue: "default", limit: 7)
            for job in claimed.prefix(5) { _ = try await store.finish(job.id, .succeeded) }
            _ = try await store.cancel(ids[9])
            clock.advance(by: .seconds(3600))
            _ = try await store.finish(claimed[5].id, .succeeded)  // finished after the cutoff
            let cutoff = clock.now.advanced(by: .seconds(-60))

            var batches: [[PrunedJob]] = []
            let deleted = try await store.prune(finishedBefore: cutoff, batchSize: 2) { batches.append($0) }
            #expect(deleted == 6)
            #expect(batches.map(\.count) == [2, 2, 2])
            let pruned = batches.flatMap { $0 }
            #expect(Set(pruned.map(\.id)) == Set(Array(ids.prefix(5)) + [ids[9]]))
            #expect(pruned.first { $0.id == ids[0] }?.stdoutPath?.hasSuffix("/\(ids[0]).out") == true)
            #expect(pruned.first { $0.id == ids[9] }?.stdoutPath == nil)
            let left = try await store.jobs(limit: 100).jobs.map(\.id)
            #expect(left == Array(ids[5...8]))
            #expect(try await store.counts().first?.total == 4)
            #expect(try await store.prune(finishedBefore: cutoff) == 0)
            // Ids are never reused, even after the newest job is pruned.
            let next = try await store.add(spec())
            #expect(next.id > ids[9])
        }
    }
}
