// store-bench: the job store's figures, measured on real files in a temporary directory.
//
//   store-bench [--quick] [--only NAME[,NAME…]] [--durability full|normal] [--no-malloc-tuning]
//
// Scenarios (each on a fresh database; figures are medians of --runs runs where it says so):
//   inserts     durable single-job inserts/s with 1, 8, 32 and 128 concurrent inserters
//   batches     jobs/s inserted in batches of 1,000
//   claim       claim+finish jobs/s: 1 worker (claim 1, finish 1, one after the other) and
//               32 concurrent workers (their claims and finishes group-committed)
//   backlog     claim+finish rate with 1,000 and with 1,000,000 queued jobs, counts() latency,
//               and the RSS growth with 1,000,000 queued
//   fair        round-robin claim+finish rate over 100 submitters with 1,000 and 1,000,000 queued
//   fsync       the disk's raw rate of small write+fdatasync, which bounds one-commit-per-job
//
// Glibc's heap tuning is process-wide, so compare with and without it in two processes:
//   store-bench --only claim --durability normal
//   store-bench --only claim --durability normal --no-malloc-tuning

import Foundation
import JobModel
import JobStore
import JobStoring
import Logging

struct Options {
    var quick = false
    var only: Set<String> = ["inserts", "batches", "claim", "backlog", "fair", "fsync"]
    var durability: StoreConfiguration.Durability = .full
    var tuneMalloc = true
    var runs = 3

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--quick": quick = true; runs = 1
            case "--only": only = Set((iterator.next() ?? "").split(separator: ",").map(String.init))
            case "--durability": durability = StoreConfiguration.Durability(rawValue: iterator.next() ?? "") ?? .full
            case "--no-malloc-tuning": tuneMalloc = false
            case "--runs": runs = Int(iterator.next() ?? "") ?? runs
            case "--help", "-h":
                print("usage: store-bench [--quick] [--runs N] [--only inserts,batches,claim,backlog,fair,fsync] "
                    + "[--durability full|normal] [--no-malloc-tuning]")
                exit(0)
            default:
                FileHandle.standardError.write(Data("store-bench: unknown argument \(argument)\n".utf8))
                exit(64)
            }
        }
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
let quietLogger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })

func now() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
}

/// Resident set size of this process, from /proc/self/status, in bytes.
func residentBytes() -> Int {
    // /proc files report size 0, so read them with read(2) until the end.
    let fd = open("/proc/self/status", O_RDONLY)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count <= 0 { break }
        bytes += chunk[0..<count]
    }
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let kib = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { Int($0) } ?? 0
        return kib * 1024
    }
    return 0
}

/// A fresh directory for one scenario's database, removed afterwards. Under /var/tmp, which
/// is the same disk as the state directory would be (not a tmpfs).
func withDatabase<T>(_ body: (JobStore, String) async throws -> T) async throws -> T {
    let directory = "/var/tmp/jobq-store-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let store = try await JobStore.open(
        StoreConfiguration(path: directory + "/jobs.db", logDirectory: directory + "/logs",
                           durability: options.durability, tuneMalloc: options.tuneMalloc),
        logger: quietLogger)
    let result = try await body(store, directory)
    await store.close()
    return result
}

func jobSpec(_ index: Int) -> JobSpec {
    JobSpec(command: .argv(["/usr/bin/true", "job-\(index)"]), label: "bench")
}

func report(_ name: String, _ value: String, _ note: String = "") {
    func pad(_ text: String, _ width: Int, left: Bool) -> String {
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return left ? text + fill : fill + text
    }
    let line = pad(name, 52, left: true) + " " + pad(value, 16, left: false) + (note.isEmpty ? "" : "  " + note)
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func formatRate(_ rate: Double, _ unit: String) -> String {
    String(format: "%.0f %@", rate, unit as NSString)
}

// MARK: Scenarios

func insertScenario(concurrency: Int, total: Int) async throws -> (Double, StoreStatistics) {
    try await withDatabase { store, _ in
        let perTask = total / concurrency
        let start = now()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<concurrency {
                group.addTask {
                    for index in 0..<perTask { _ = try await store.insert([jobSpec(task * perTask + index)]) }
                }
            }
            try await group.waitForAll()
        }
        return (Double(perTask * concurrency) / (now() - start), store.statistics)
    }
}

func batchScenario(batches: Int, size: Int) async throws -> Double {
    try await withDatabase { store, _ in
        let specs = (0..<size).map(jobSpec)
        let start = now()
        for _ in 0..<batches { _ = try await store.insert(specs) }
        return Double(batches * size) / (now() - start)
    }
}

/// Claim+finish `count` jobs with `workers` concurrent workers, each claiming one job at a
/// time and finishing it (success) before claiming the next.
func claimFinish(_ store: JobStore, workers: Int, count: Int, policy: ClaimPolicy = .fifo) async throws -> Double {
    let perWorker = count / workers
    let start = now()
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<workers {
            group.addTask {
                for _ in 0..<perWorker {
                    guard let job = try await store.claim(queue: "default", policy: policy).first else {
                        fatalError("the backlog ran dry: the scenario is mis-sized")
                    }
                    _ = try await store.finish(job.id, .succeeded)
                }
            }
        }
        try await group.waitForAll()
    }
    return Double(perWorker * workers) / (now() - start)
}

func fill(_ store: JobStore, _ count: Int) async throws {
    var left = count
    var index = 0
    while left > 0 {
        let size = min(left, 1000)
        _ = try await store.insert((0..<size).map { jobSpec(index + $0) })
        left -= size
        index += size
    }
}

func fsyncRate(seconds: Double) -> Double {
    let path = "/var/tmp/jobq-fsync-\(getpid())"
    let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
    defer { close(fd); unlink(path) }
    let block = [UInt8](repeating: 7, count: 4096)
    var count = 0
    let start = now()
    while now() - start < seconds {
        _ = block.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t((count % 64) * 4096)) }
        fdatasync(fd)
        count += 1
    }
    return Double(count) / (now() - start)
}

// MARK: Main

report("store-bench: durability=\(options.durability.rawValue) malloc-tuning=\(options.tuneMalloc ? "on" : "off") "
    + "runs=\(options.runs)\(options.quick ? " (quick: figures mean little)" : "")", "")

// The backlog first, so that its RSS growth is measured on a heap no earlier scenario grew.
if options.only.contains("backlog") {
    // Claim+finish `sample` jobs with 32 workers, `runs` times, with `backlog` more jobs queued
    // behind them throughout. The small backlog gets a fresh database per run (so that it stays
    // small); the large one is filled once and sampled `runs` times in a row.
    let sample = options.quick ? 320 : 10_000
    let large = options.quick ? 20_000 : 1_000_000
    var medians: [Int: Double] = [:]
    for backlog in [1000, large] {
        var rates: [Double] = []
        if backlog == 1000 {
            for _ in 0..<options.runs {
                rates.append(try await withDatabase { store, _ in
                    try await fill(store, backlog + sample)
                    return try await claimFinish(store, workers: 32, count: sample)
                })
            }
        } else {
            try await withDatabase { store, _ in
                let before = residentBytes()
                try await fill(store, backlog + sample * options.runs)
                let filled = residentBytes()
                let countStart = now()
                let counts = try await store.counts()
                let countTime = now() - countStart
                precondition(counts.first?[.queued] == backlog + sample * options.runs)
                for _ in 0..<options.runs { rates.append(try await claimFinish(store, workers: 32, count: sample)) }
                let after = residentBytes()
                report("counts() with \(backlog + sample * options.runs) queued", String(format: "%.2f ms", countTime * 1000))
                report("RSS growth with \(backlog + sample * options.runs) queued",
                       String(format: "%.1f MB", Double(filled - before) / 1e6),
                       String(format: "RSS %.1f MB before, %.1f MB after the claims", Double(before) / 1e6, Double(after) / 1e6))
            }
        }
        medians[backlog] = median(rates)
        report("claim+finish, 32 workers, \(backlog) queued", formatRate(median(rates), "jobs/s"),
               "runs: " + rates.map { String(format: "%.0f", $0) }.joined(separator: ", "))
    }
    report("claim rate, \(large) queued / 1000 queued",
           String(format: "%.2f", medians[large]! / medians[1000]!), "target: at least 0.80")
}

if options.only.contains("fair") {
    try await fairShareScenario(quick: options.quick, runs: options.runs)
}

if options.only.contains("fsync") {
    report("raw write+fdatasync (4 KiB, /var/tmp)", formatRate(fsyncRate(seconds: options.quick ? 0.3 : 2), "/s"))
}

if options.only.contains("inserts") {
    for concurrency in [1, 8, 32, 128] {
        let total = options.quick ? concurrency * 20 : max(3000, concurrency * 200)
        var rates: [Double] = []
        var group = 0.0
        for _ in 0..<options.runs {
            let (rate, statistics) = try await insertScenario(concurrency: concurrency, total: total)
            rates.append(rate)
            group = Double(statistics.operations) / Double(max(1, statistics.transactions))
        }
        report("durable inserts, \(concurrency) concurrent single-job inserters",
               formatRate(median(rates), "jobs/s"), String(format: "mean group %.1f", group))
    }
}

if options.only.contains("batches") {
    let batches = options.quick ? 5 : 100
    var rates: [Double] = []
    for _ in 0..<options.runs { rates.append(try await batchScenario(batches: batches, size: 1000)) }
    report("durable inserts, batches of 1,000", formatRate(median(rates), "jobs/s"))
}

if options.only.contains("claim") {
    let count = options.quick ? 640 : 20_000
    // Each claim policy over one submitter's jobs: what round-robin costs where it changes nothing.
    for workers in [1, 32] {
        for (name, policy) in [("FIFO", ClaimPolicy.fifo), ("round-robin", ClaimPolicy())] {
            var rates: [Double] = []
            for _ in 0..<options.runs {
                rates.append(try await withDatabase { store, _ in
                    try await fill(store, count)
                    return try await claimFinish(store, workers: workers, count: count, policy: policy)
                })
            }
            report("claim+finish, \(workers) worker\(workers == 1 ? "" : "s"), \(name)", formatRate(median(rates), "jobs/s"))
        }
    }
}

