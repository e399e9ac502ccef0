@testable import JobEngine
import JobModel
import Testing

/// ``EngineState``'s part in leases, and ``LeaseWaitList``: inputs in, actions out, no tasks.
@Suite("EngineState: leases and waiting consumers")
struct EngineLeaseStateTests {
    let now = Timestamp(millisecondsSinceEpoch: 1_800_000_000_000)

    func at(_ seconds: Int64) -> Timestamp { now.advanced(by: .seconds(seconds)) }

    @Test("A payload queue claims nothing for the workers: not at the start, not when work arrives or dependents are ready")
    func payloadQueuesClaimNothing() {
        var state = EngineState(defaultConcurrency: 2)
        #expect(state.handle(.started(queues: ["default", "mail"], paused: [], payloadQueues: ["mail"]), now: now)
            == [.claim(queue: "default", limit: 2)])
        #expect(state.handle(.workArrived(queues: ["mail"]), now: now) == [])
        #expect(state.handle(.dependentsReady, now: now) == [])
        #expect(state.handle(.consumersServe(["news"]), now: now) == [])
        #expect(state.handle(.resumed("news"), now: now) == [])
        #expect(state.queues["news"]?.servesConsumers == true)
    }

    @Test("The expiry timer: armed for the earliest lease, a pass at its time, rearmed for the next one the store names")
    func expiryTimer() {
        var state = EngineState(defaultConcurrency: 1)
        // A lease held across the restart.
        _ = state.handle(.started(queues: [], paused: [], leaseExpiry: at(60)), now: now)
        #expect(state.nextDeadline == at(60))
        // A later lease does not move the timer; an earlier one does.
        #expect(state.handle(.leaseHeld(until: at(90)), now: now) == [])
        #expect(state.handle(.leaseHeld(until: at(30)), now: now) == [.rearmTimer])
        #expect(state.nextDeadline == at(30))
        // Not yet due: a tick does nothing but rearm.
        #expect(state.handle(.tick, now: at(10)) == [.rearmTimer])
        // Due: one pass; while it is in flight, the timer has no lease deadline.
        #expect(state.handle(.tick, now: at(30)) == [.expireLeases, .rearmTimer])
        #expect(state.nextDeadline == nil)
        #expect(state.handle(.tick, now: at(31)) == [.rearmTimer])
        // A lease granted during the pass is kept for after it.
        #expect(state.handle(.leaseHeld(until: at(40)), now: at(31)) == [])
        // The store says the next lease ends at 90 (a heartbeat moved the one of 60).
        #expect(state.handle(.leasesExpired(next: at(90)), now: at(31)) == [.rearmTimer])
        #expect(state.nextDeadline == at(40))
        #expect(state.handle(.tick, now: at(40)) == [.expireLeases, .rearmTimer])
        #expect(state.handle(.leasesExpired(next: at(90)), now: at(40)) == [.rearmTimer])
        #expect(state.nextDeadline == at(90))
    }

    @Test("No lease held: the pass leaves the timer without a lease deadline")
    func noLeaseLeft() {
        var state = EngineState(defaultConcurrency: 1)
        _ = state.handle(.started(queues: [], paused: []), now: now)
        #expect(state.handle(.leaseHeld(until: at(5)), now: now) == [.rearmTimer])
        #expect(state.handle(.tick, now: at(5)) == [.expireLeases, .rearmTimer])
        #expect(state.handle(.leasesExpired(next: nil), now: at(5)) == [.rearmTimer])
        #expect(state.nextDeadline == nil)
    }

    @Test("A pause or resume while the engine starts outlasts the start's earlier reading of the paused queues")
    func pauseDuringStart() {
        var state = EngineState(defaultConcurrency: 1)
        _ = state.handle(.paused("default"), now: now)
        _ = state.handle(.resumed("default"), now: now)
        // The start read "default" as paused before the resume.
        #expect(state.handle(.started(queues: ["default"], paused: ["default"]), now: now) == [.claim(queue: "default", limit: 1)])
        #expect(state.queues["default"]?.lifecycle == .active)
    }

    @Test("Waiting consumers: n jobs wake at most n, oldest first; an arrival between a look and the parking is not slept through")
    func waitList() {
        var list = LeaseWaitList()
        let seen = list.arrivals(in: "mail")
        let first = list.park(in: "mail", seen: seen)
        let second = list.park(in: "mail", seen: seen)
        let third = list.park(in: "mail", seen: seen)
        #expect(list.waitingCount(in: "mail") == 3)
        #expect(list.workArrived(in: "mail", count: 2) == [first, second].compactMap { $0 })
        #expect(list.waitingCount(in: "mail") == 1)
        // A request that looked before that arrival must look again rather than park.
        #expect(list.park(in: "mail", seen: seen) == nil)
        // Other queues are not concerned.
        #expect(list.workArrived(in: "news", count: nil) == [])
        #expect(list.workArrived(in: "mail", count: nil) == [third].compactMap { $0 })
        // A request that left is not woken.
        let fourth = list.park(in: "mail", seen: list.arrivals(in: "mail"))!
        list.remove(fourth, from: "mail")
        #expect(list.workArrivedAnywhere() == [])
    }
}
