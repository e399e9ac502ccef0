@testable import JobAPI
import JobModel
import JobStoring
import NIOCore
import Testing

/// Reading a run's output as the store keeps it: in order, one stream or both, from the last
/// lines when asked, across chunk boundaries.
@Suite("Stored logs")
struct StoredLogTailTests {
    /// A store's output in memory: one run of job 1.
    final class Output: StoredOutput {
        let chunks: [OutputChunk]

        init(_ texts: [(UInt8, String)]) {
            chunks = texts.enumerated().map { OutputChunk(seq: $0.offset + 1, stream: $0.element.0, data: Array($0.element.1.utf8)) }
        }

        func output(of job: JobID, run: Int, streams: [UInt8], after seq: Int, limit: Int) async throws(JobStoreError) -> [OutputChunk] {
            Array(chunks.filter { streams.contains($0.stream) && $0.seq > seq }.prefix(limit))
        }

        func output(of job: JobID, run: Int, streams: [UInt8], before seq: Int?, limit: Int) async throws(JobStoreError) -> [OutputChunk] {
            Array(chunks.filter { streams.contains($0.stream) && $0.seq < (seq ?? .max) }.reversed().prefix(limit))
        }

        func outputChanges(of job: JobID) -> AsyncStream<Void> { AsyncStream { $0.finish() } }
    }

    func all(_ tail: StoredLogTail) async throws -> String {
        var text = ""
        while let chunk = try await tail.read() { text += String(buffer: chunk) }
        return text
    }

    let output = Output([(1, "one\ntw"), (2, "E1\n"), (1, "o\nthr"), (1, "ee\n"), (2, "E2"), (1, "four\n")])

    @Test("One stream, or both merged in the order written")
    func streams() async throws {
        #expect(try await all(StoredLogTail(output: output, job: JobID(1), run: 1, streams: [1])) == "one\ntwo\nthree\nfour\n")
        #expect(try await all(StoredLogTail(output: output, job: JobID(1), run: 1, streams: [2])) == "E1\nE2")
        #expect(try await all(StoredLogTail(output: output, job: JobID(1), run: 1, streams: [1, 2]))
            == "one\ntwE1\no\nthree\nE2four\n")
    }

    @Test("The last N lines, found across chunks; a last line without its newline counts; 0 starts at the end")
    func lastLines() async throws {
        for (lines, expected) in [(1, "four\n"), (2, "three\nfour\n"), (3, "two\nthree\nfour\n"), (4, "one\ntwo\nthree\nfour\n"), (9, "one\ntwo\nthree\nfour\n")] {
            let tail = StoredLogTail(output: output, job: JobID(1), run: 1, streams: [1])
            try await tail.skipToLast(lines: lines)
            #expect(try await all(tail) == expected, "last \(lines)")
        }
        let errors = StoredLogTail(output: output, job: JobID(1), run: 1, streams: [2])
        try await errors.skipToLast(lines: 1)
        #expect(try await all(errors) == "E2")
        let none = StoredLogTail(output: output, job: JobID(1), run: 1, streams: [1])
        try await none.skipToLast(lines: 0)
        #expect(try await all(none) == "")
    }
}
