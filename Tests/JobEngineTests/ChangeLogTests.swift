@testable import JobEngine
import JobModel
import Testing

/// The engine's numbered change log and its bells, which the summarized event stream reads.
@Suite struct ChangeLogTests {
    static func event(_ id: Int64, queue: String = "default", uid: UInt32? = nil) -> EngineEvent {
        .finished(Job(id: JobID(rawValue: id), spec: JobSpec(command: .argv(["true"]), queue: queue, submitterUID: uid),
                      state: .succeeded, createdAt: .now(), updatedAt: .now()))
    }

    @Test func aReaderGetsWhatCameAfterItsPosition() {
        var log = ChangeLog()
        #expect(log.next == 0)
        for id: Int64 in 1...3 { log.append(Self.event(id, queue: "q\(id)", uid: UInt32(id))) }
        let batch = log.since(1)
        #expect(batch.events.map(\.id.rawValue) == [2, 3] && batch.next == 3 && !batch.missed)
        #expect(batch.events[0] == JobChange(Self.event(2, queue: "q2", uid: 2)))
        #expect(batch.events[0].kind == .finished && batch.events[0].queue == "q2" && batch.events[0].submitterUID == 2)
        #expect(log.since(3).events.isEmpty)
    }

    @Test func aReaderTooFarBehindLearnsItMissedSome() {
        var log = ChangeLog()
        for id in 1...Int64(ChangeLog.capacity + 10) { log.append(Self.event(id)) }
        let batch = log.since(0)
        #expect(batch.missed)
        #expect(batch.events.count == ChangeLog.capacity && batch.events.first?.id.rawValue == 11)
        #expect(!log.since(batch.next).missed)
    }

    @Test func aBellRingsOnceForChangesNobodyWaitedFor() async {
        let hub = EventHub()
        let (bell, ringing) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let position = hub.ring(ringing)
        for id: Int64 in 1...5 { hub.publish(Self.event(id)) }
        var rings = bell.makeAsyncIterator()
        #expect(await rings.next() != nil)
        #expect(hub.changes(since: position).events.count == 5)
        hub.finish()
        #expect(await rings.next() == nil, "one ring for five changes, then the end")
    }
}
