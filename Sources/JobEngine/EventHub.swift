import JobBasics
import JobModel

/// The engine's event fan-out and the counters kept from the same events: any thread may
/// publish (a submit on its connection's event loop, the engine after a record), without a
/// hop to the engine.
final class EventHub: Sendable {
    private struct State {
        var subscribers: [Int: AsyncStream<EngineEvent>.Continuation] = [:]
        var nextToken = 0
        var metrics = EngineMetrics()
        var finished = false
        var log = ChangeLog()
        var bells: [Int: AsyncStream<Void>.Continuation] = [:]
    }

    private let state = Locked(State())

    /// How far a subscriber may fall behind before it loses the oldest events.
    static let buffer = 4096

    /// Job changes from now on, until ``finish()``.
    func subscribe() -> AsyncStream<EngineEvent> {
        let (stream, continuation) = AsyncStream<EngineEvent>.makeStream(bufferingPolicy: .bufferingNewest(Self.buffer))
        let added = state.withLock { state -> Bool in
            if state.finished { return false }
            state.nextToken += 1
            state.subscribers[state.nextToken] = continuation
            return true
        }
        if !added { continuation.finish() }
        return stream
    }

    /// Rings `bell` after each change from now on, until it is finished; returns the change
    /// log's position to read from.
    func ring(_ bell: AsyncStream<Void>.Continuation) -> UInt64 {
        let position = state.withLock { state -> UInt64? in
            if state.finished { return nil }
            state.nextToken += 1
            state.bells[state.nextToken] = bell
            return state.log.next
        }
        if position == nil { bell.finish() }
        return position ?? 0
    }

    /// The changes numbered `position` and later.
    func changes(since position: UInt64) -> ChangeBatch {
        state.withLock { $0.log.since(position) }
    }

    /// Whether anyone listens to the events now.
    var hasSubscribers: Bool { state.withLock { !$0.subscribers.isEmpty } }

    /// Sends an event to every subscriber, forgetting those whose stream has ended, and counts it
    /// in the metrics unless `counted` is false (a job another node finished).
    func publish(_ event: EngineEvent, counted: Bool = true) {
        state.withLock { state in
            if counted { state.metrics.record(event) }
            for (token, subscriber) in state.subscribers {
                if case .terminated = subscriber.yield(event) { state.subscribers[token] = nil }
            }
            state.log.append(event)
            for (token, bell) in state.bells {
                if case .terminated = bell.yield(()) { state.bells[token] = nil }
            }
        }
    }

    /// Jobs submitted and finished since the engine started, and their run times.
    var metrics: EngineMetrics { state.withLock { $0.metrics } }

    /// Ends every subscriber's stream and bell (the engine stopped).
    func finish() {
        let (streams, bells) = state.withLock { state in
            state.finished = true
            defer {
                state.subscribers.removeAll()
                state.bells.removeAll()
            }
            return (Array(state.subscribers.values), Array(state.bells.values))
        }
        for stream in streams { stream.finish() }
        for bell in bells { bell.finish() }
    }
}
