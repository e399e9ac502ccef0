import JobEngine
import JobModel
import JobStoring
import NIOCore

/// Reads one run's output from the store (when the store keeps it, so that any node reads a
/// run of any other): chunk by chunk from where the last read stopped, of one stream or of
/// both merged in the order they were written; follows it as more is stored.
final class StoredLogTail {
    let output: any StoredOutput
    let job: JobID
    let run: Int
    /// 1: stdout, 2: stderr; both for the merged log.
    let streams: [UInt8]
    /// The last chunk read.
    private var seq = 0
    /// The end of a chunk a read of the last lines starts in, sent before the next chunks.
    private var partial: [UInt8] = []
    static let chunksPerRead = 16

    init(output: any StoredOutput, job: JobID, run: Int, streams: [UInt8]) {
        self.output = output
        self.job = job
        self.run = run
        self.streams = streams
    }

    /// The chunks stored since the last read, or `nil` when there is nothing more for now.
    func read() async throws -> ByteBuffer? {
        let chunks = try await storeCall { [output, job, run, streams, seq] in
            try await output.output(of: job, run: run, streams: streams, after: seq, limit: Self.chunksPerRead)
        }
        if chunks.isEmpty && partial.isEmpty { return nil }
        var buffer = ByteBuffer(bytes: partial)
        partial = []
        for chunk in chunks { buffer.writeBytes(chunk.data) }
        seq = chunks.last?.seq ?? seq
        return buffer
    }

    /// Starts the next read at the last `lines` lines of what is stored now (all of it when
    /// it has fewer), found by reading chunks backwards from the last.
    func skipToLast(lines: Int) async throws {
        var before: Int?
        var newlines = 0
        var last = true
        while true {
            let chunks = try await storeCall { [output, job, run, streams, before] in
                try await output.output(of: job, run: run, streams: streams, before: before, limit: Self.chunksPerRead)
            }
            guard !chunks.isEmpty else {
                // Fewer lines than asked for: everything.
                seq = 0
                return
            }
            for chunk in chunks {
                if lines == 0 {
                    seq = chunk.seq
                    return
                }
                for index in stride(from: chunk.data.count - 1, through: 0, by: -1) where chunk.data[index] == UInt8(ascii: "\n") {
                    // A final newline ends the last line; it does not start another.
                    if last && index == chunk.data.count - 1 { continue }
                    newlines += 1
                    if newlines == lines {
                        seq = chunk.seq
                        partial = Array(chunk.data[(index + 1)...])
                        return
                    }
                }
                last = false
                before = chunk.seq
            }
        }
    }

    /// Sends everything stored, then every new chunk as it is stored, until the job is
    /// terminal and its output read to the end (`true`), or the connection ends (`false`).
    func follow(
        engine: JobEngine, store: any JobStoring, until ended: EventLoopFuture<ConnectionEnd>?,
        write: (ByteBuffer) async throws -> Void
    ) async throws -> Bool {
        try await LogFollow.run(
            job: job, engine: engine, store: store, changes: output.outputChanges(of: job), until: ended, read: read, write: write)
    }
}
