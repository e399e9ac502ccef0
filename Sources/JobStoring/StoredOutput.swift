import JobModel

/// A store that keeps jobs' output itself (PostgreSQL's, which several nodes share), so that
/// any node reads and follows the output of a run on any other.
public protocol StoredOutput: AnyObject, Sendable {
    /// Up to `limit` chunks of run `run` of `job` after chunk `seq`, in the order they were
    /// written, of the streams named (1: stdout, 2: stderr).
    func output(of job: JobID, run: Int, streams: [UInt8], after seq: Int, limit: Int) async throws(JobStoreError) -> [OutputChunk]
    /// Up to `limit` chunks before chunk `seq` (`nil`: from the last), the latest first: where
    /// a reader of the last lines starts.
    func output(of job: JobID, run: Int, streams: [UInt8], before seq: Int?, limit: Int) async throws(JobStoreError) -> [OutputChunk]
    /// Yields when output of `job` may have been stored (by this node or another), and at each
    /// heartbeat, so that a missed notice only delays a follower; ends when the caller's task
    /// stops iterating.
    func outputChanges(of job: JobID) -> AsyncStream<Void>
}

/// A piece of a run's output as it was stored.
public struct OutputChunk: Hashable, Sendable {
    /// Its place among the run's chunks of both streams.
    public var seq: Int
    /// 1: stdout, 2: stderr.
    public var stream: UInt8
    public var data: [UInt8]

    public init(seq: Int, stream: UInt8, data: [UInt8]) {
        self.seq = seq
        self.stream = stream
        self.data = data
    }
}
