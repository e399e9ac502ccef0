import JobModel

/// Output runs on this node wrote that is not in the database yet, as chunks in the order it
/// was read: each run's chunks are numbered across both its streams, so that a reader merges
/// stdout and stderr back in that order. Bytes of one stream that follow each other join one
/// chunk up to ``chunkSize``. Past ``limit`` bytes waiting (a database that falls behind or
/// is away), a run's further bytes are counted, not kept, and a note in its output says so.
struct PendingOutput: Sendable {
    /// One row of `job_output`.
    struct Chunk: Hashable, Sendable {
        var job: JobID
        var run: Int
        /// 1: stdout, 2: stderr.
        var stream: UInt8
        var seq: Int
        var data: [UInt8]
    }

    struct RunKey: Hashable, Sendable {
        var job: JobID
        var run: Int
    }

    static let chunkSize = 64 << 10

    private(set) var chunks: [Chunk] = []
    private(set) var bytes = 0
    /// Appends taken so far: a flush that commits what was taken at count N has stored every
    /// byte appended before N.
    private(set) var appended = 0
    /// The last chunk number of each run that is writing.
    private var lastSeq: [RunKey: Int] = [:]
    /// Bytes of each run not kept because too much was waiting.
    private var dropped: [RunKey: Int] = [:]
    let limit: Int

    init(limit: Int = 64 << 20) {
        self.limit = limit
    }

    var isEmpty: Bool { chunks.isEmpty }

    /// Takes a run's bytes (or counts them as dropped past the limit).
    mutating func append(job: JobID, run: Int, stream: UInt8, _ data: UnsafeRawBufferPointer) {
        appended += 1
        let key = RunKey(job: job, run: run)
        guard bytes + data.count <= limit else {
            dropped[key, default: 0] += data.count
            return
        }
        if let missed = dropped.removeValue(forKey: key) {
            add(key, stream: 2, Self.note(missed: missed))
        }
        add(key, stream: stream, Array(data))
    }

    private mutating func add(_ key: RunKey, stream: UInt8, _ data: [UInt8]) {
        bytes += data.count
        if let last = chunks.last, last.job == key.job, last.run == key.run, last.stream == stream,
           last.data.count + data.count <= Self.chunkSize {
            chunks[chunks.count - 1].data += data
            return
        }
        let seq = (lastSeq[key] ?? 0) + 1
        lastSeq[key] = seq
        chunks.append(Chunk(job: key.job, run: key.run, stream: stream, seq: seq, data: data))
    }

    /// Everything waiting, and the count of appends it covers; the buffer is left empty.
    mutating func take() -> (chunks: [Chunk], upTo: Int) {
        defer {
            chunks = []
            bytes = 0
        }
        return (chunks, appended)
    }

    /// The line a run's stderr gets where bytes were dropped.
    static func note(missed: Int) -> [UInt8] {
        Array("\n[jobq: \(missed) bytes of output were not stored: the database fell behind]\n".utf8)
    }

    /// Chunks a flush could not store, back in front of those appended since.
    mutating func putBack(_ failed: [Chunk]) {
        chunks = failed + chunks
        bytes += failed.reduce(0) { $0 + $1.data.count }
    }

    /// Forgets the numbering of `job`'s runs once a run of it has ended (a next run starts at
    /// 1), after a note of the bytes it could not keep since its last chunk.
    mutating func forget(_ job: JobID) {
        for (key, missed) in dropped where key.job == job {
            appended += 1
            add(key, stream: 2, Self.note(missed: missed))
        }
        lastSeq = lastSeq.filter { $0.key.job != job }
        dropped = dropped.filter { $0.key.job != job }
    }
}
