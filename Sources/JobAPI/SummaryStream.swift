import Hummingbird
import JobEngine
import NIOCore

/// `GET /v1/events?every=SECONDS`: a summary of what changed (``EventSummary``) at once when
/// none went out in the last interval, else at the interval's end. The engine rings a bell of
/// the stream's on each change; while the stream waits out an interval, rings pile up as one,
/// so a change costs the stream nothing until it looks, however many jobs change.
struct SummaryStream: Sendable {
    let engine: JobEngine
    let queue: String?
    /// The only submitter whose jobs the client sees (`.some(nil)`: everyone's; nil: none).
    let submitter: UInt32??
    let every: Duration
    let ended: EventLoopFuture<ConnectionEnd>?

    func run(_ writer: inout any ResponseBodyWriter) async throws {
        try await writer.write(ByteBuffer(string: ": jobqd events\n\n"))
        let (bell, ringing) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let (intervals, interval) = AsyncStream<Void>.makeStream()
        let (deadlines, arm) = AsyncStream<ContinuousClock.Instant>.makeStream()
        var position = engine.ring(ringing)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await deadline in deadlines {
                    try? await Task.sleep(until: deadline)
                    interval.yield()
                }
                interval.finish()
            }
            if let ended {
                group.addTask {
                    _ = await ConnectionWatch.wait(for: ended)
                    ringing.finish()
                    interval.finish()
                }
            }
            defer {
                ringing.finish()
                arm.finish()
                group.cancelAll()
            }
            var rings = bell.makeAsyncIterator()
            var intervalsEnd = intervals.makeAsyncIterator()
            while await rings.next() != nil {
                let batch = engine.changes(since: position)
                position = batch.next
                var summary = EventSummary()
                if batch.missed { summary.missedSome() }
                for change in batch.events where queue == nil || change.queue == queue {
                    guard let submitter else { continue }
                    if let submitter, change.submitterUID != submitter { continue }
                    summary.add(change)
                }
                guard !summary.isEmpty else { continue }
                try await writer.write(ByteBuffer(string: summary.take()))
                arm.yield(ContinuousClock.now + every)
                guard await intervalsEnd.next() != nil else { break }
            }
        }
        try await writer.finish(nil)
    }
}
