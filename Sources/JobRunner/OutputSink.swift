import Foundation
import SystemPackage

/// A job's output file, created (mode 0600) when the first byte arrives, keeping at most
/// `limit` bytes; the rest is read and dropped (so that the job never blocks on a full pipe),
/// and a last line says how much, and why when the disk was the reason. What the file keeps
/// goes to `mirror` too, when there is one.
///
/// Job output shares the disk with the store: it stops being written while the disk's free
/// space is below a reserve (a tenth of the filesystem, at most 64 MiB, checked at creation and
/// every MiB), so that a job's output cannot fill the disk the store needs to record the job's
/// end and take new submits.
final class OutputSink {
    let path: String
    let limit: Int
    let mirror: ((UnsafeRawBufferPointer) -> Void)?
    private var descriptor: FileDescriptor?
    private var stopped: String?
    private var untilCheck = 0
    private var written = 0
    private var dropped = 0

    static let checkEvery = 1 << 20
    static let maxReserve: UInt64 = 64 << 20

    init(path: String, limit: Int, mirror: ((UnsafeRawBufferPointer) -> Void)? = nil) {
        self.path = path
        self.limit = limit
        self.mirror = mirror
    }

    deinit { try? descriptor?.close() }

    /// Keeps what fits under the limit and the disk's reserve, counts the rest as dropped.
    func take(_ bytes: UnsafeRawBufferPointer) {
        let keep = stopped == nil ? min(bytes.count, max(0, limit - written)) : 0
        if keep > 0 { write(UnsafeRawBufferPointer(rebasing: bytes[0..<keep])) }
        if stopped == nil { written += keep }
        dropped += bytes.count - (stopped == nil ? keep : 0)
    }

    /// Writes the note on dropped output, then closes the file.
    func finish() {
        if dropped > 0, let descriptor {
            let reason = stopped.map { " (\($0))" } ?? ""
            let note = "\n[jobq: output truncated after \(written) bytes\(reason); \(dropped) more bytes dropped]\n"
            _ = try? Array(note.utf8).withUnsafeBytes { try descriptor.writeAll($0) }
            Array(note.utf8).withUnsafeBytes { mirror?($0) }
        }
        try? descriptor?.close()
        descriptor = nil
    }

    /// Appends bytes, creating the file first. A full disk, or free space below the reserve,
    /// drops the rest of the output, never the job.
    private func write(_ bytes: UnsafeRawBufferPointer) {
        if stopped != nil { return }
        if untilCheck <= 0 {
            untilCheck = Self.checkEvery
            if let free = Self.freeBelowReserve(path) {
                stopped = "less than \(free >> 20) MiB free on the disk"
                return
            }
        }
        untilCheck -= bytes.count
        do {
            if descriptor == nil {
                descriptor = try FileDescriptor.open(
                    FilePath(path), .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: [.ownerReadWrite])
            }
            _ = try descriptor?.writeAll(bytes)
            mirror?(bytes)
        } catch {
            stopped = "\(error)"
        }
    }

    /// The reserve (in bytes) when the free space of `path`'s filesystem is below it.
    private static func freeBelowReserve(_ path: String) -> UInt64? {
        var info = statvfs()
        guard statvfs((path as NSString).deletingLastPathComponent, &info) == 0 else { return nil }
        let total = UInt64(info.f_blocks) * UInt64(info.f_frsize)
        let free = UInt64(info.f_bavail) * UInt64(info.f_frsize)
        let reserve = min(maxReserve, total / 10)
        return free < reserve ? reserve : nil
    }
}
