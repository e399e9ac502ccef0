import JobRunner
import Synchronization
import Testing

@Suite("RunStop: a request to stop one run, from another task")
struct RunStopTests {
    /// Counts the calls of a handler.
    final class Calls: Sendable {
        let count = Atomic<Int>(0)
        var handler: @Sendable () -> Void { { self.count.add(1, ordering: .relaxed) } }
        var value: Int { count.load(ordering: .relaxed) }
    }

    @Test("A request runs the handler once; later requests do nothing")
    func requestAfterHandler() {
        let stop = RunStop(), calls = Calls()
        stop.onRequest(calls.handler)
        #expect(!stop.isRequested && calls.value == 0)
        stop.request()
        stop.request()
        #expect(stop.isRequested && calls.value == 1)
    }

    @Test("A request made before the handler is set runs it as soon as it is set, once")
    func requestBeforeHandler() {
        let stop = RunStop(), calls = Calls()
        stop.request()
        #expect(stop.isRequested && calls.value == 0)
        stop.onRequest(calls.handler)
        #expect(calls.value == 1)
        stop.request()
        #expect(calls.value == 1)
    }

    @Test("A cleared handler (its run has ended) is not called; a second handler replaces the first")
    func clearedAndReplaced() {
        let stop = RunStop(), first = Calls(), second = Calls()
        stop.onRequest(first.handler)
        stop.clearHandler()
        stop.request()
        #expect(stop.isRequested && first.value == 0)

        let other = RunStop()
        other.onRequest(first.handler)
        other.onRequest(second.handler)
        other.request()
        #expect(first.value == 0 && second.value == 1)
    }
}
