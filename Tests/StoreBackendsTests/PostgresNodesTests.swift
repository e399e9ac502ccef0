import JobBasics
import JobModel
import JobQueueTesting
import JobStorePostgres
import JobStoring
import Testing

/// Several nodes on one PostgreSQL database, at the store's level.
@Suite("PostgreSQL store: several nodes", .postgresCluster, .timeLimit(.minutes(2)))
struct PostgresNodesTests {
    @Test("Three nodes claiming one queue at once take every job exactly once")
    func concurrentClaims() async throws {
        try await withTestDatabase { configuration in
            try await withStore(configuration, node: "a") { a in
                try await withStore(configuration, node: "b") { b in
                    try await withStore(configuration, node: "c") { c in
                        let ids = try await a.insert((0..<300).map { _ in JobSpec(command: .argv(["true"])) }).map(\.job.id)
                        let taken = try await withThrowingTaskGroup(of: [Job].self) { group in
                            for store in [a, b, c] {
                                group.addTask {
                                    var mine: [Job] = []
                                    while true {
                                        let claim = try await store.claim(queue: "default", limit: 7)
                                        if claim.jobs.isEmpty { return mine }
                                        mine += claim.jobs
                                    }
                                }
                            }
                            return try await group.reduce(into: [Job]()) { $0 += $1 }
                        }
                        #expect(taken.map(\.id).sorted() == ids)
                        #expect(try await a.counts()[0][.running] == 300)
                    }
                }
            }
        }
    }

    @Test("A node cannot record a run another node holds, and recovers only its own jobs")
    func fencing() async throws {
        try await withTestDatabase { configuration in
            try await withStore(configuration, node: "a") { a in
                try await withStore(configuration, node: "b") { b in
                    let first = try await a.insert([JobSpec(command: .argv(["true"]))])[0].job
                    let second = try await a.insert([JobSpec(command: .argv(["true"]))])[0].job
                    #expect(try await a.claim(queue: "default", limit: 1).jobs.map(\.id) == [first.id])
                    #expect(try await b.claim(queue: "default", limit: 1).jobs.map(\.id) == [second.id])
                    await #expect {
                        try await b.finish(first.id, .succeeded)
                    } throws: { error in
                        guard case .conflict(first.id, let why) = error as? JobStoreError else { return false }
                        return why.contains("runs on node a, not on b")
                    }
                    #expect(try await b.recoverInterruptedJobs() == [second.id])
                    #expect(try await a.job(first.id)?.state == .running)
                    #expect(try await a.finish(first.id, .succeeded).job.state == .succeeded)
                }
            }
        }
    }
}
