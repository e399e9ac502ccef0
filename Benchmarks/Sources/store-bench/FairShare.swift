import Foundation
import JobModel
import JobStore
import JobStoring

/// The fair-share claim under a backlog: `users` submitters, their jobs interleaved, claimed
/// and finished round-robin by 32 concurrent workers; each user must get an equal share of
/// the claims (within one), or the run aborts.
func fairShareScenario(quick: Bool, runs: Int) async throws {
    let users = 100
    let workers = 32
    let sample = quick ? 3_200 : 9_600
    let large = quick ? 20_000 : 1_000_000
    var medians: [Int: Double] = [:]
    for backlog in [1000, large] {
        var rates: [Double] = []
        // The small backlog gets a fresh database per run (so that it stays small); the large
        // one is filled once and sampled `runs` times in a row.
        for _ in 0..<(backlog == 1000 ? runs : 1) {
            try await withDatabase { store, _ in
                try await fillBySubmitters(store, backlog + sample * (backlog == 1000 ? 1 : runs), users: users)
                for _ in 0..<(backlog == 1000 ? 1 : runs) {
                    let (rate, served) = try await claimFinishFairly(store, workers: workers, count: sample)
                    let shares = Array(served.values)
                    precondition(served.count == users && shares.max()! - shares.min()! <= 1,
                                 "round-robin gave unequal shares: \(served.sorted { $0.key < $1.key })")
                    rates.append(rate)
                }
            }
        }
        medians[backlog] = median(rates)
        report("fair claim+finish, \(workers) workers, \(users) users, \(backlog) queued", formatRate(median(rates), "jobs/s"),
               "runs: " + rates.map { String(format: "%.0f", $0) }.joined(separator: ", "))
    }
    report("fair claim rate, \(large) queued / 1000 queued",
           String(format: "%.2f", medians[large]! / medians[1000]!), "target: at least 0.80")
}

/// Queues `count` jobs, submitter `index % users` each, in batches of 1,000.
private func fillBySubmitters(_ store: JobStore, _ count: Int, users: Int) async throws {
    var index = 0
    while index < count {
        let size = min(count - index, 1000)
        _ = try await store.insert((index..<(index + size)).map { job in
            var spec = jobSpec(job)
            spec.submitterUID = UInt32(10_000 + job % users)
            return spec
        })
        index += size
    }
}

/// Claim+finish `count` jobs round-robin with `workers` concurrent workers; returns the rate
/// and how many claims each submitter got.
private func claimFinishFairly(_ store: JobStore, workers: Int, count: Int) async throws -> (Double, [UInt32: Int]) {
    let perWorker = count / workers
    let start = now()
    let served = try await withThrowingTaskGroup(of: [UInt32].self) { group in
        for _ in 0..<workers {
            group.addTask {
                var mine: [UInt32] = []
                for _ in 0..<perWorker {
                    guard let job = try await store.claim(queue: "default", policy: ClaimPolicy()).first else {
                        fatalError("the backlog ran dry: the scenario is mis-sized")
                    }
                    mine.append(job.spec.submitterUID ?? 0)
                    _ = try await store.finish(job.id, .succeeded)
                }
                return mine
            }
        }
        var all: [UInt32: Int] = [:]
        for try await mine in group { for user in mine { all[user, default: 0] += 1 } }
        return all
    }
    return (Double(perWorker * workers) / (now() - start), served)
}
