import JobEngine
import JobModel
import JobStoring
import NIOCore

/// The loop of a log follow, whatever the log is read from (a file on this host, or the
/// store): read what there is, then again at each change, until the job is terminal and its
/// output read to the end.
enum LogFollow {
    /// Sends what `read` finds, again each time `changes` yields or the job ends, until the job
    /// is terminal and `read` finds nothing more (`true`), or the connection ends (`false`).
    static func run(
        job id: JobID, engine: JobEngine, store: any JobStoring, changes: AsyncStream<Void>,
        until ended: EventLoopFuture<ConnectionEnd>?, read: () async throws -> ByteBuffer?,
        write: (ByteBuffer) async throws -> Void
    ) async throws -> Bool {
        let (wakes, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        // Subscribe before the first look, so that the job's end cannot slip between the two.
        let events = engine.events()
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in events where event.job.id == id {
                    if case .finished = event { wake.yield() }
                }
            }
            group.addTask {
                for await _ in changes { wake.yield() }
            }
            if let ended {
                group.addTask {
                    _ = await ConnectionWatch.wait(for: ended)
                    wake.finish()
                }
            }
            defer { group.cancelAll() }
            var iterator = wakes.makeAsyncIterator()
            while true {
                let terminal = try await storeCall { try await store.job(id) }?.state.isTerminal ?? true
                while let chunk = try await read() { try await write(chunk) }
                if terminal { return true }
                guard await iterator.next() != nil else { return false }
            }
        }
    }
}
