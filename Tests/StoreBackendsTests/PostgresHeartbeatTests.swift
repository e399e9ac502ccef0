import JobBasics
import JobModel
import JobQueueTesting
@testable import JobStorePostgres
import JobStoring
import Testing

/// Nodes' heartbeats, the rescue of a lapsed node's jobs, and fencing.
@Suite("PostgreSQL store: heartbeats", .postgresCluster, .timeLimit(.minutes(2)))
struct PostgresHeartbeatTests {
    @Test("A lapsed node's running jobs are requeued by another; its records are refused; it comes back as a new incarnation")
    func rescue() async throws {
        let clock = TestClock()
        try await withTestDatabase { configuration in
            try await withStore(configuration, node: "a", clock: clock.function) { a in
                try await withStore(configuration, node: "b", clock: clock.function) { b in
                    let ids = try await a.insert([JobSpec(command: .argv(["true"])), JobSpec(command: .argv(["true"]))]).map(\.job.id)
                    let held = try await a.claim(queue: "default", limit: 2).jobs
                    #expect(held.map(\.id) == ids)
                    // Within the lapse: both beat, nothing moves.
                    clock.advance(by: .seconds(20))
                    #expect(try await a.beat().rescued.isEmpty)
                    #expect(try await b.beat().rescued.isEmpty)
                    // a falls silent (paused, partitioned); b beats on, and once a's last beat is
                    // older than the lapse, b's beat rescues its jobs.
                    clock.advance(by: .seconds(20))
                    #expect(try await b.beat().rescued.isEmpty)
                    clock.advance(by: .seconds(15))
                    let found = try await b.beat()
                    #expect(found.rescued == ids && found.lost == false)
                    #expect(try await b.queuesWithReadyWork().commands == ["default"])
                    let requeued = try #require(try await b.job(ids[0]))
                    #expect(requeued.state == .queued && requeued.attempts == 0 && requeued.interruptedAttempts == 1)
                    #expect(requeued.error == "attempt 1 was interrupted: node a stopped sending its heartbeat")
                    // b runs the first again; a, back, cannot record over it, nor over the queued one.
                    let again = try #require(try await b.claim(queue: "default", limit: 1).jobs.first)
                    #expect(again.id == ids[0] && again.runs == 2)
                    await #expect {
                        try await a.finish(ids[0], .succeeded, run: held[0].runs)
                    } throws: { error in
                        guard case .conflict(ids[0], let why) = error as? JobStoreError else { return false }
                        return why.contains("runs on node b")
                    }
                    await #expect(throws: JobStoreError.illegalTransition(ids[1], from: .queued, to: .succeeded)) {
                        try await a.finish(ids[1], .succeeded, run: held[1].runs)
                    }
                    // a's next beat learns it lapsed and registers again.
                    let before = a.incarnation
                    let back = try await a.beat()
                    #expect(back.lost && a.incarnation > before)
                    // Its new incarnation claims the second job; a record of the old run is refused.
                    let mine = try #require(try await a.claim(queue: "default", limit: 1).jobs.first)
                    #expect(mine.id == ids[1] && mine.runs == 2)
                    await #expect {
                        try await a.finish(ids[1], .succeeded, run: held[1].runs)
                    } throws: { error in
                        guard case .conflict(ids[1], _) = error as? JobStoreError else { return false }
                        return true
                    }
                    #expect(try await a.finish(ids[1], .succeeded, run: mine.runs).job.state == .succeeded)
                    #expect(try await b.finish(ids[0], .succeeded, run: again.runs).job.state == .succeeded)
                }
            }
        }
    }

    @Test("After an outage of the database, stale as everyone is, no node takes the others for dead")
    func noRescueAfterOutage() async throws {
        let clock = TestClock()
        try await withTestDatabase { configuration in
            try await withStore(configuration, node: "a", clock: clock.function) { a in
                try await withStore(configuration, node: "b", clock: clock.function) { b in
                    let ids = try await a.insert([JobSpec(command: .argv(["true"]))]).map(\.job.id)
                    _ = try await a.claim(queue: "default", limit: 1)
                    clock.advance(by: .seconds(120))
                    #expect(try await b.beat().rescued.isEmpty)
                    #expect(try await a.beat().lost == false)
                    clock.advance(by: .seconds(10))
                    #expect(try await b.beat().rescued.isEmpty)
                    #expect(try await a.job(ids[0])?.state == .running)
                }
            }
        }
    }

    @Test("Two nodes finding one lapsed node at once: its jobs are requeued once")
    func rescueOnce() async throws {
        let clock = TestClock()
        try await withTestDatabase { configuration in
            try await withStore(configuration, node: "a", clock: clock.function) { a in
                try await withStore(configuration, node: "b", clock: clock.function) { b in
                    try await withStore(configuration, node: "c", clock: clock.function) { c in
                        let ids = try await a.insert((0..<20).map { _ in JobSpec(command: .argv(["true"])) }).map(\.job.id)
                        _ = try await a.claim(queue: "default", limit: 20)
                        clock.advance(by: .seconds(20))
                        _ = try await b.beat()
                        _ = try await c.beat()
                        clock.advance(by: .seconds(15))
                        async let one = b.beat()
                        async let two = c.beat()
                        let rescued = try await one.rescued + two.rescued
                        #expect(rescued.sorted() == ids)
                        #expect(try await b.jobs(matching: JobFilter(states: [.queued]), limit: 100).jobs.allSatisfy { $0.interruptedAttempts == 1 })
                    }
                }
            }
        }
    }


    @Test("A run this node let go of (its end could not be recorded) is requeued at a beat; held runs and fresh claims are not")
    func orphanedRunsRequeued() async throws {
        let clock = TestClock()
        try await withTestDatabase { configuration in
            try await withStore(configuration, node: "a", clock: clock.function) { a in
                let held = Locked<Set<JobID>>([])
                a.reportHeldRuns { held.withLock { $0 } }
                let ids = try await a.insert([JobSpec(command: .argv(["true"])), JobSpec(command: .argv(["true"]))]).map(\.job.id)
                _ = try await a.claim(queue: "default", limit: 2)
                held.withLock { $0 = [ids[0]] }
                // Claimed just now: not taken for lost, even if the engine does not hold it yet.
                #expect(try await a.beat().orphaned.isEmpty)
                // Claimed more than a heartbeat interval ago (an hour, in these tests).
                clock.advance(by: .seconds(3601))
                let beat = try await a.beat()
                #expect(beat.orphaned == [ids[1]] && beat.rescued.isEmpty && !beat.lost)
                #expect(try await a.job(ids[0])?.state == .running)
                let requeued = try #require(try await a.job(ids[1]))
                #expect(requeued.state == .queued && requeued.attempts == 0 && requeued.interruptedAttempts == 1)
                #expect(requeued.error == "attempt 1 was interrupted: node a could not record its end")
                clock.advance(by: .seconds(3601))
                #expect(try await a.beat().orphaned.isEmpty)
            }
        }
    }
}
