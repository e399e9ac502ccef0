import JobEngine
import JobStoring
import NIOCore

/// A job's log as a request reads it, whatever holds it (``LogTail``: a file of this host's;
/// ``StoredLogTail``: the store): what was written since the last read, the last lines, and a
/// follow to the job's end.
protocol LogReader: AnyObject {
    /// What was written since the last read, or `nil` when there is nothing more for now.
    func read() async throws -> ByteBuffer?
    /// Starts the next read at the last `lines` lines written so far.
    func skipToLast(lines: Int) async throws
    /// Sends everything there is, then what is written next, until the job is terminal and
    /// its log read to the end (`true`), or the connection ends (`false`).
    func follow(
        engine: JobEngine, store: any JobStoring, until ended: EventLoopFuture<ConnectionEnd>?,
        write: (ByteBuffer) async throws -> Void
    ) async throws -> Bool
}

extension LogTail: LogReader {}
extension StoredLogTail: LogReader {}
