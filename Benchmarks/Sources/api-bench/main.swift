// Durable submits through the API: a real jobqd (release build, durability=full, its default
// queue paused so that nothing runs) on a temporary socket, driven by JobClient over kept-alive
// connections. Prints jobs/s for single submits from 1 and from C concurrent clients, and for
// batches from 1 and from 4 clients; checks that the store holds every acknowledged job.
//
//   api-bench --jobqd PATH [--jobs N] [--clients C] [--batch B]
import Foundation
import JobClient
import JobModel

func argument(_ name: String, _ fallback: String?) -> String? {
    let arguments = CommandLine.arguments
    if let index = arguments.firstIndex(of: name), index + 1 < arguments.count { return arguments[index + 1] }
    return fallback
}

guard let jobqd = argument("--jobqd", nil) else {
    FileHandle.standardError.write(Data("usage: api-bench --jobqd PATH [--jobs N] [--clients C] [--batch B]\n".utf8))
    exit(2)
}
let jobs = Int(argument("--jobs", "100000")!)!
let clients = Int(argument("--clients", "32")!)!
let batch = Int(argument("--batch", "1000")!)!

let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jobq-api-bench-\(getpid())").path
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }
let socket = directory + "/jobq.sock"

// systemd's notify protocol tells us when the daemon is ready: no polling.
let notifyPath = directory + "/notify.sock"
let notify = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
var address = sockaddr_un()
address.sun_family = sa_family_t(AF_UNIX)
withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(notifyPath.utf8)) }
_ = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(notify, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
}

let daemon = Process()
daemon.executableURL = URL(fileURLWithPath: jobqd)
daemon.arguments = ["--state-dir", directory + "/state", "--socket", socket, "--log-level", "warning"]
var environment = ProcessInfo.processInfo.environment
environment["NOTIFY_SOCKET"] = notifyPath
daemon.environment = environment
try daemon.run()
defer {
    daemon.terminate()
    daemon.waitUntilExit()
}
while true {
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = buffer.withUnsafeMutableBytes { recv(notify, $0.baseAddress, $0.count, 0) }
    guard count > 0 else { fatalError("jobqd did not report READY=1") }
    if String(decoding: buffer.prefix(count), as: UTF8.self).split(separator: "\n").contains("READY=1") { break }
}

let client = JobClient(socketPath: socket)
_ = try await client.pause("default")
let spec = JobSpec(command: .argv(["true"]))

/// Runs `clients` tasks, each submitting `perClient` jobs in requests of `size` on one
/// connection; returns jobs/s.
func measure(_ label: String, clients: Int, total: Int, size: Int) async throws -> Double {
    let perClient = total / clients
    let start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<clients {
            group.addTask {
                try await client.withConnection { connection in
                    var sent = 0
                    while sent < perClient {
                        let count = min(size, perClient - sent)
                        _ = try await connection.submit(Array(repeating: spec, count: count))
                        sent += count
                    }
                }
            }
        }
        try await group.waitForAll()
    }
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let rate = Double(perClient * clients) / seconds
    print(String(format: "%@: %d jobs in %.2f s: %.0f jobs/s", label, perClient * clients, seconds, rate))
    return rate
}

var submitted = 0
_ = try await measure("single submits, 1 client", clients: 1, total: min(jobs, 10_000), size: 1)
submitted += min(jobs, 10_000)
_ = try await measure("single submits, \(clients) clients", clients: clients, total: jobs, size: 1)
submitted += jobs / clients * clients
_ = try await measure("batches of \(batch), 1 client", clients: 1, total: jobs, size: batch)
submitted += jobs
_ = try await measure("batches of \(batch), 4 clients", clients: 4, total: jobs, size: batch)
submitted += jobs / 4 * 4
let queued = try await client.status().states["queued"] ?? 0
print("acknowledged \(submitted), queued in the store \(queued)")
if queued != submitted { exit(1) }
