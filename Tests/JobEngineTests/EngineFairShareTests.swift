import JobEngine
import JobModel
import JobStore
import JobStoring
import Testing

/// Fair share through the engine: round-robin across submitters and the per-user cap.
@Suite("Engine: fair share", .timeLimit(.minutes(1)))
struct EngineFairShareTests {
    private func spec(_ program: String, by user: UInt32) -> JobSpec {
        var spec = JobSpec(argv: [program])
        spec.submitterUID = user
        return spec
    }

    @Test("User A submits 1,000 jobs, then user B one: B's job starts at the next free slot")
    func oneJobIsNotStarvedByABacklog() async throws {
        try await withEngine { engine, _, fake, _ in
            let first = try await engine.submit([spec("block", by: 1000)])[0].job.id
            await fake.state.untilStarted(1)
            let backlog = try await engine.submit((0..<999).map { _ in spec("ok", by: 1000) }).map(\.job.id)
            let lone = try await engine.submit([spec("ok", by: 1001)])[0].job.id
            await fake.release(first)
            try await engine.join()
            let started = await fake.state.started
            #expect(started.count == 1001)
            #expect(Array(started.prefix(2)) == [first, lone])
            #expect(Array(started.dropFirst(2)) == backlog)
        }
    }

    @Test("FIFO keeps submission order across users")
    func fifoKeepsOrder() async throws {
        var configuration = EngineConfiguration(defaultConcurrency: 1, drainGrace: .zero)
        configuration.defaultClaimPolicy = .fifo
        try await withEngine(configuration) { engine, _, fake, _ in
            let first = try await engine.submit([spec("block", by: 1000)])[0].job.id
            await fake.state.untilStarted(1)
            let backlog = try await engine.submit((0..<20).map { _ in spec("ok", by: 1000) }).map(\.job.id)
            let lone = try await engine.submit([spec("ok", by: 1001)])[0].job.id
            await fake.release(first)
            try await engine.join()
            #expect(await fake.state.started == [first] + backlog + [lone])
        }
    }

    @Test("max_running_per_user: a user at the cap waits while another takes the free slot; their next starts when one of theirs ends")
    func capPerUser() async throws {
        var configuration = EngineConfiguration(defaultConcurrency: 3, drainGrace: .zero)
        configuration.claimPolicies = ["default": ClaimPolicy(maxRunningPerUser: 2)]
        try await withEngine(configuration) { engine, _, fake, _ in
            let mine = try await engine.submit((0..<4).map { _ in spec("block", by: 1000) }).map(\.job.id)
            await fake.state.untilStarted(2)
            let other = try await engine.submit([spec("block", by: 1001)])[0].job.id
            await fake.state.untilStarted(3)
            #expect(await fake.state.started == [mine[0], mine[1], other])
            #expect(await fake.state.running == 3)
            // A slot frees up by the other user's job ending: the capped user still waits.
            await fake.release(other)
            await fake.release(mine[0])
            await fake.state.untilStarted(4)
            #expect(await fake.state.started.last == mine[2])
            await fake.release(mine[1])
            await fake.state.untilStarted(5)
            #expect(await fake.state.maxRunning == 3)
            for id in mine.dropFirst(2) { await fake.release(id) }
            try await engine.join()
            #expect(await fake.state.started == [mine[0], mine[1], other, mine[2], mine[3]])
        }
    }
}
