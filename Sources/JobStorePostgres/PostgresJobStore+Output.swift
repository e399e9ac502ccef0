import JobBasics
import JobModel
import JobStoring
import Logging
import NIOCore
import PostgresNIO

/// The output of this node's runs, kept in `job_output` so that any node reads and follows it.
/// Runs' bytes are gathered (``PendingOutput``) and stored by one task at most once per
/// ``outputWindow``; a run's end is recorded only after its output is stored (or after
/// ``outputWaitLimit``, when the database is away), so that a reader that sees a job finished
/// has all of its output.
extension PostgresJobStore {
    /// How long the storing task gathers output before it writes, when nothing waits for it.
    static let outputWindow = Duration.milliseconds(50)
    /// How long a run's end waits for its output to be stored at most.
    static let outputWaitLimit = Duration.seconds(5)

    /// Output gathered and not stored yet, what was stored, and who waits for it.
    struct OutputState: Sendable {
        var pending = PendingOutput()
        /// Appends stored so far (``PendingOutput/appended`` at the last flush that committed).
        var stored = 0
        /// A run's end waits: the next flush goes at once.
        var urgent = false
        var waiters: [UInt64: (upTo: Int, continuation: CheckedContinuation<Void, Never>)] = [:]
        var nextWaiter: UInt64 = 0
    }

    /// The followers of jobs' output, by job.
    struct OutputFollowers: Sendable {
        var byJob: [JobID: [UInt64: AsyncStream<Void>.Continuation]] = [:]
        var next: UInt64 = 0
    }

    /// Takes bytes a run of this node kept: called on the launcher's thread, so it only copies.
    public func appendOutput(job: JobID, run: Int, stream: UInt8, _ bytes: UnsafeRawBufferPointer) {
        outputState.withLock { $0.pending.append(job: job, run: run, stream: stream, bytes) }
        outputBell.ring()
    }

    /// Returns once every byte `job`'s runs wrote is stored (at most ``outputWaitLimit``): called
    /// before a run's end is recorded.
    func storeOutput(of job: JobID) async {
        let target: Int? = outputState.withLock { state in
            state.pending.forget(job)
            guard state.stored < state.pending.appended else { return nil }
            state.urgent = true
            return state.pending.appended
        }
        guard let target else { return }
        outputBell.ring()
        let id = outputState.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForOutput(upTo: target, waiter: id) }
            group.addTask { try? await Task.sleep(for: Self.outputWaitLimit) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForOutput(upTo target: Int, waiter id: UInt64) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = outputState.withLock { state -> Bool in
                    if state.stored >= target || Task.isCancelled { return true }
                    state.waiters[id] = (target, continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            outputState.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume()
        }
    }

    /// Stores gathered output until cancelled: at once when a run's end waits for it, else once
    /// per window. A batch the database refuses for want of a connection goes back and is tried
    /// again, later each time (up to a heartbeat's interval); one it refuses for good is dropped
    /// and logged, so that it cannot hold up the rest.
    func storeOutputUntilCancelled() async {
        var delay = Duration.milliseconds(100)
        while !Task.isCancelled {
            await outputBell.wait()
            if !outputState.withLock({ $0.urgent }) { try? await Task.sleep(for: Self.outputWindow) }
            let (chunks, upTo) = outputState.withLock { state in
                state.urgent = false
                return state.pending.take()
            }
            do {
                if !chunks.isEmpty { try await insert(chunks) }
                delay = .milliseconds(100)
            } catch {
                let failure = StorageFailure(postgres: error)
                if failure.kind == .unavailable || failure.kind == .busy, !Task.isCancelled {
                    outputState.withLock { $0.pending.putBack(chunks) }
                    logger.debug("could not store output; trying again", metadata: ["error": "\(failure.detail)"])
                    try? await Task.sleep(for: delay)
                    delay = min(delay * 2, heartbeat.interval)
                    outputBell.ring()
                    continue
                }
                logger.warning("could not store jobs' output; it stays in the files of this node", metadata: [
                    "jobs": "\(Set(chunks.map(\.job.rawValue)).sorted())", "error": "\(failure.detail)",
                ])
            }
            let woken = outputState.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.stored = max(state.stored, upTo)
                let done = state.waiters.filter { $0.value.upTo <= upTo }
                for key in done.keys { state.waiters.removeValue(forKey: key) }
                return done.values.map(\.continuation)
            }
            for continuation in woken { continuation.resume() }
            let jobs = Array(Set(chunks.map(\.job))).sorted()
            if !jobs.isEmpty {
                outputStored(jobs)
                notify([.output(jobs)])
            }
        }
    }

    private func insert(_ chunks: [PendingOutput.Chunk]) async throws {
        let jobs = chunks.map(\.job.rawValue)
        let runs = chunks.map { Int32(clamping: $0.run) }
        let streams = chunks.map { Int16($0.stream) }
        let seqs = chunks.map { Int32(clamping: $0.seq) }
        let data = chunks.map { ByteBuffer(bytes: $0.data) }
        try await client.withConnection { connection in
            try await connection.run("""
                INSERT INTO job_output (job_id, run, stream, seq, data)
                SELECT * FROM unnest(\(jobs)::bigint[], \(runs)::integer[], \(streams)::smallint[], \(seqs)::integer[], \(data)::bytea[])
                ON CONFLICT DO NOTHING
                """, logger: self.logger)
        }
    }

    /// Wakes the followers of `jobs`' output.
    func outputStored(_ jobs: [JobID]) {
        let woken = outputFollowers.withLock { followers in jobs.flatMap { followers.byJob[$0].map { Array($0.values) } ?? [] } }
        for follower in woken { follower.yield() }
    }

    /// Wakes every follower (at each heartbeat, for notices that were lost).
    func wakeOutputFollowers() {
        for follower in outputFollowers.withLock({ $0.byJob.values.flatMap(\.values) }) { follower.yield() }
    }
}

extension PostgresJobStore: StoredOutput {
    public func output(of job: JobID, run: Int, streams: [UInt8], after seq: Int, limit: Int) async throws(JobStoreError) -> [OutputChunk] {
        try await rows("""
            SELECT seq, stream, data FROM job_output
            WHERE job_id = \(job.rawValue) AND run = \(Int32(clamping: run)) AND stream = ANY(\(streams.map(Int16.init))::smallint[])
              AND seq > \(Int32(clamping: seq))
            ORDER BY seq LIMIT \(Int64(limit))
            """, Self.chunk)
    }

    public func output(of job: JobID, run: Int, streams: [UInt8], before seq: Int?, limit: Int) async throws(JobStoreError) -> [OutputChunk] {
        try await rows("""
            SELECT seq, stream, data FROM job_output
            WHERE job_id = \(job.rawValue) AND run = \(Int32(clamping: run)) AND stream = ANY(\(streams.map(Int16.init))::smallint[])
              AND (\(seq.map { Int32(clamping: $0) })::integer IS NULL OR seq < \(seq.map { Int32(clamping: $0) }))
            ORDER BY seq DESC LIMIT \(Int64(limit))
            """, Self.chunk)
    }

    public func outputChanges(of job: JobID) -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = outputFollowers.withLock { followers in
            followers.next += 1
            followers.byJob[job, default: [:]][followers.next] = continuation
            return followers.next
        }
        continuation.onTermination = { [weak self] _ in
            self?.outputFollowers.withLock { followers in
                followers.byJob[job]?.removeValue(forKey: id)
                if followers.byJob[job]?.isEmpty == true { followers.byJob.removeValue(forKey: job) }
            }
        }
        return stream
    }

    private static func chunk(_ row: PostgresRow) throws -> OutputChunk {
        let (seq, stream, data) = try row.decode((Int32, Int16, ByteBuffer).self)
        return OutputChunk(seq: Int(seq), stream: UInt8(clamping: stream), data: Array(buffer: data))
    }
}
