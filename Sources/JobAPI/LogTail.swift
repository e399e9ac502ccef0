import Dispatch
import Foundation
import JobBasics
import JobEngine
import JobModel
import JobStoring
import NIOCore

/// Reads a job's log file from where the last read stopped; follows it as it grows, woken by
/// inotify (no polling), until the job is terminal and every byte is sent.
final class LogTail {
    let path: String
    /// The job whose log the file is.
    let job: JobID
    private var fd: Int32 = -1
    private var offset: off_t = 0
    static let chunkSize = 64 << 10

    init(path: String, job: JobID) {
        self.path = path
        self.job = job
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// The next chunk written since the last read, or `nil` when there is nothing more for now
    /// (or no file yet: a job's log files appear with its first output).
    ///
    /// The file is opened and read off the caller's thread (`OffLoop`): a request's handler
    /// runs on its connection's event loop, which a read of a log that has left the page cache
    /// would hold up for every other connection on that loop.
    func read() async -> ByteBuffer? {
        let (path, fd, offset) = (self.path, self.fd, self.offset)
        let chunk = await OffLoop.run { Self.read(path: path, fd: fd, offset: offset) }
        self.fd = chunk.fd
        self.offset = chunk.offset
        return chunk.bytes
    }

    /// Starts the next read at the last `lines` lines of what the file holds now (all of it
    /// when it has fewer), found by reading backwards from its end, off the caller's thread.
    func skipToLast(lines: Int) async {
        let path = self.path
        let (fd, offset) = await OffLoop.run { () -> (Int32, off_t) in
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return (fd, 0) }
            return (fd, Self.startOfLast(lines: lines, fd: fd))
        }
        if self.fd >= 0 { close(self.fd) }
        self.fd = fd
        self.offset = offset
    }

    /// The offset where the last `lines` lines of `fd`'s file start (a last line without its
    /// newline counts as one).
    private static func startOfLast(lines: Int, fd: Int32) -> off_t {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return 0 }
        guard lines > 0 else { return info.st_size }
        var end = info.st_size
        var newlines = 0
        var block = [UInt8](repeating: 0, count: chunkSize)
        // A final newline ends the last line; it does not start another.
        var skipFinal = true
        while end > 0 {
            let start = max(0, end - off_t(chunkSize))
            let count = block.withUnsafeMutableBytes { pread(fd, $0.baseAddress, Int(end - start), start) }
            guard count > 0 else { return 0 }
            for index in stride(from: count - 1, through: 0, by: -1) where block[index] == UInt8(ascii: "\n") {
                if skipFinal && start + off_t(index) == info.st_size - 1 { continue }
                newlines += 1
                if newlines == lines { return start + off_t(index) + 1 }
            }
            skipFinal = false
            end = start
        }
        return 0
    }

    /// What one read found: the descriptor (opened by it the first time), where the next read
    /// starts, and the bytes.
    private struct Chunk: Sendable {
        var fd: Int32
        var offset: off_t
        var bytes: ByteBuffer?
    }

    private static func read(path: String, fd: Int32, offset: off_t) -> Chunk {
        var fd = fd
        if fd < 0 {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 { return Chunk(fd: fd, offset: offset, bytes: nil) }
        }
        var buffer = ByteBuffer()
        let count = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: chunkSize) { bytes in
            max(0, pread(fd, bytes.baseAddress, chunkSize, offset))
        }
        if count == 0 {
            // A retried job's next attempt starts its files again: follow from the start.
            var info = stat()
            let restart = fstat(fd, &info) == 0 && info.st_size < offset
            return Chunk(fd: fd, offset: restart ? 0 : offset, bytes: nil)
        }
        return Chunk(fd: fd, offset: offset + off_t(count), bytes: buffer)
    }

    /// Sends everything there is, then every new chunk as it is written, until the job is
    /// terminal and the file is read to its end (`true`), or the connection ends (`false`).
    func follow(
        engine: JobEngine, store: any JobStoring, until ended: EventLoopFuture<ConnectionEnd>?,
        write: (ByteBuffer) async throws -> Void
    ) async throws -> Bool {
        let (changes, changed) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let watch = try DirectoryWatch(directory: directory, name: name) { changed.yield() }
        defer { watch.cancel() }
        return try await LogFollow.run(job: job, engine: engine, store: store, changes: changes, until: ended, read: read, write: write)
    }
}

/// An inotify watch on a directory that calls `onChange` when the file `name` in it is created,
/// written or closed after writing. Events are read on a dispatch source: the descriptor is
/// only touched on the source's serial queue, and closed by its cancel handler.
final class DirectoryWatch {
    private let source: any DispatchSourceRead

    init(directory: String, name: String, onChange: @escaping @Sendable () -> Void) throws {
        let fd = inotify_init1(Int32(IN_NONBLOCK) | Int32(IN_CLOEXEC))
        guard fd >= 0 else {
            throw APIError.internal("inotify: \(String(cString: strerror(errno)))")
        }
        let mask = UInt32(IN_CREATE) | UInt32(IN_MODIFY) | UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO)
        guard inotify_add_watch(fd, directory, mask) >= 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw APIError.internal("cannot watch \(directory): \(message)")
        }
        let target = Array(name.utf8)
        source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: DispatchQueue(label: "jobq.log-follow"))
        source.setEventHandler {
            var matched = false
            var buffer = [UInt8](repeating: 0, count: 8192)
            while true {
                let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if count <= 0 { break }
                if InotifyEvents.contains(buffer[..<count], where: { _, entry in entry.elementsEqual(target) }) { matched = true }
            }
            if matched { onChange() }
        }
        source.setCancelHandler { close(fd) }
        source.resume()
    }

    func cancel() {
        source.cancel()
    }
}
