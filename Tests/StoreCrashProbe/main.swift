// StoreCrashProbe DATABASE INSERTERS
//
// The child process of the crash-durability test: opens the job store at DATABASE and runs
// INSERTERS concurrent tasks that insert jobs for ever (every third call a batch of 3), writing
// each id to standard output, one per line, only after `insert` has returned, that is, once
// the store has acknowledged it as durable. The test kills it with SIGKILL at a random moment
// and checks that every id it printed is in the database.

import Foundation
import JobModel
import JobStore
import JobStoring
import Logging

let arguments = CommandLine.arguments
guard arguments.count == 3, let inserters = Int(arguments[2]), inserters > 0 else {
    FileHandle.standardError.write(Data("usage: StoreCrashProbe DATABASE INSERTERS\n".utf8))
    exit(64)
}
let path = arguments[1]
let directory = (path as NSString).deletingLastPathComponent

/// Writes one line with a single write(2): lines from concurrent tasks never interleave.
func emit(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeMutableBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
}

do {
    // Standard output carries only acknowledged ids: the store logs to standard error, and
    // only what goes wrong.
    var logger = Logger(label: "jobq.store", factory: { label in StreamLogHandler.standardError(label: label) })
    logger.logLevel = .warning
    let store = try await JobStore.open(
        StoreConfiguration(path: path, logDirectory: directory + "/logs"), logger: logger)
    emit("open")
    try await withThrowingTaskGroup(of: Void.self) { group in
        for inserter in 0..<inserters {
            group.addTask {
                var round = 0
                while true {
                    round += 1
                    let size = round % 3 == 0 ? 3 : 1
                    let specs = (0..<size).map { item in
                        JobSpec(command: .argv(["echo", "\(inserter)-\(round)-\(item)"]), label: "probe")
                    }
                    for submitted in try await store.insert(specs) { emit("\(submitted.job.id)") }
                }
            }
        }
        try await group.next()
    }
} catch {
    FileHandle.standardError.write(Data("StoreCrashProbe: \(error)\n".utf8))
    exit(1)
}
