import JobModel
@testable import JobStorePostgres
import Testing

/// Output gathered for the database: numbered across a run's two streams, joined while one
/// stream goes on, bounded while the database is behind.
@Suite("Pending output")
struct PendingOutputTests {
    func append(_ pending: inout PendingOutput, job: Int64, run: Int = 1, stream: UInt8 = 1, _ text: String) {
        Array(text.utf8).withUnsafeBytes { pending.append(job: JobID(job), run: run, stream: stream, $0) }
    }

    func text(_ chunk: PendingOutput.Chunk) -> String { String(decoding: chunk.data, as: UTF8.self) }

    @Test("A run's chunks are numbered across both streams in the order read; one stream's bytes that follow each other join")
    func numbering() {
        var pending = PendingOutput()
        append(&pending, job: 1, "a")
        append(&pending, job: 1, "b")
        append(&pending, job: 1, stream: 2, "E")
        append(&pending, job: 2, "x")
        append(&pending, job: 1, "c")
        append(&pending, job: 1, run: 2, "next run")
        let (chunks, upTo) = pending.take()
        #expect(upTo == 6 && pending.isEmpty && pending.bytes == 0)
        #expect(chunks.map { [$0.job.rawValue, Int64($0.run), Int64($0.stream), Int64($0.seq)] }
            == [[1, 1, 1, 1], [1, 1, 2, 2], [2, 1, 1, 1], [1, 1, 1, 3], [1, 2, 1, 1]])
        #expect(chunks.map(text) == ["ab", "E", "x", "c", "next run"])
        // Numbering goes on across takes, until the run ends.
        append(&pending, job: 1, "d")
        #expect(pending.take().chunks.first?.seq == 4)
        pending.forget(JobID(1))
        append(&pending, job: 1, "again")
        #expect(pending.take().chunks.first?.seq == 1)
    }

    @Test("A chunk grows to the chunk size at most")
    func chunkSize() {
        var pending = PendingOutput()
        let block = String(repeating: "z", count: PendingOutput.chunkSize / 2 + 1)
        append(&pending, job: 1, block)
        append(&pending, job: 1, block)
        #expect(pending.take().chunks.map(\.data.count) == [block.utf8.count, block.utf8.count])
    }

    @Test("A flush that failed puts its chunks back in front of those appended since")
    func putBack() {
        var pending = PendingOutput()
        append(&pending, job: 1, "first")
        let failed = pending.take().chunks
        append(&pending, job: 1, stream: 2, "second")
        pending.putBack(failed)
        let chunks = pending.take().chunks
        #expect(chunks.map(text) == ["first", "second"] && chunks.map(\.seq) == [1, 2])
    }

    @Test("Past the limit a run's bytes are counted, not kept, and its stderr says how many were lost")
    func limit() {
        var pending = PendingOutput(limit: 10)
        append(&pending, job: 1, "12345678")
        append(&pending, job: 1, "lost")
        append(&pending, job: 2, "ok")
        #expect(pending.bytes == 10)
        _ = pending.take()
        append(&pending, job: 1, "more")
        let chunks = pending.take().chunks
        #expect(chunks.map(text) == [String(decoding: PendingOutput.note(missed: 4), as: UTF8.self), "more"])
        #expect(chunks.map(\.stream) == [2, 1])
        // A run that ends with bytes lost gets the note at its end.
        var ending = PendingOutput(limit: 3)
        append(&ending, job: 5, "abcdef")
        ending.forget(JobID(5))
        #expect(ending.take().chunks.map(text) == [String(decoding: PendingOutput.note(missed: 6), as: UTF8.self)])
    }
}
