import Foundation
import JobModel
import JobQueueTesting
@testable import JobStore
import JobStoring
import Testing

/// A child process inserts jobs and prints each acknowledged id; we kill it with SIGKILL at a
/// random moment and check that every id it printed survived, 20 times over on one database.
@Suite("Crash durability", .timeLimit(.minutes(3)))
struct CrashDurabilityTests {
    /// StoreCrashProbe is built beside the test bundle.
    static var probePath: String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(filePath: executable).deletingLastPathComponent().appending(path: "StoreCrashProbe").path()
    }

    /// Starts the probe, reads `acknowledgements` ids from it, kills it, and returns every id it
    /// printed before it died (the rest of the pipe included).
    func runAndKill(database: String, inserters: Int, acknowledgements: Int) throws -> [JobID] {
        let process = Process()
        process.executableURL = URL(filePath: Self.probePath)
        process.arguments = [database, String(inserters)]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let fd = pipe.fileHandleForReading.fileDescriptor
        var buffer: [UInt8] = []
        var lines: [String] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        func readChunk() -> Bool {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { return false }
            buffer += chunk[0..<count]
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                lines.append(String(decoding: buffer[..<newline], as: UTF8.self))
                buffer.removeSubrange(...newline)
            }
            return true
        }
        while lines.count < acknowledgements + 1, readChunk() {}
        kill(process.processIdentifier, SIGKILL)
        // The pipe holds what the probe wrote before it died; a half line is not an acknowledgement.
        while readChunk() {}
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the probe ended by itself: \(lines.suffix(3))")
        #expect(lines.first == "open")
        return lines.dropFirst().compactMap { JobID($0) }
    }

    @Test("kill -9 at a random moment loses no acknowledged insert and corrupts nothing (20 rounds)")
    func killNineTwentyTimes() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.probePath), "missing \(Self.probePath)")
        var generator = SystemRandomNumberGenerator()
        let seed = UInt64.random(in: 0...UInt64.max, using: &generator)
        var random = SplitMix64(seed: seed)
        try await withTemporaryDirectory { directory in
            let database = directory + "/jobs.db"
            var acknowledged: Set<JobID> = []
            for round in 1...20 {
                let inserters = Int(random.next() % 8) + 1
                let target = Int(random.next() % 400) + 1
                let ids = try runAndKill(database: database, inserters: inserters, acknowledgements: target)
                #expect(ids.count >= target, "round \(round), seed \(seed)")
                acknowledged.formUnion(ids)

                let store = try await JobStore.openQuietly(StoreConfiguration(path: database, logDirectory: directory))
                #expect(try await store.integrityCheck() == ["ok"], "round \(round), seed \(seed)")
                let stored = try await store.allJobIDs()
                let lost = acknowledged.subtracting(stored)
                #expect(lost.isEmpty, "round \(round), seed \(seed): lost \(lost.sorted().prefix(10))")
                let total = try await store.counts().reduce(0) { $0 + $1.total }
                #expect(total == stored.count, "counts table out of step, round \(round)")
                await store.close()
            }
            #expect(acknowledged.count >= 20)
        }
    }
}
