import JobModel
@testable import JobStorePostgres
import Testing

/// The notices nodes send each other: merged, cut into payloads under PostgreSQL's limit, and
/// read back.
@Suite("Node notices")
struct NoticeBatchTests {
    @Test("A batch merges its notices and reads back as it was sent, sender first")
    func roundTrip() {
        var batch = NoticeBatch()
        #expect(batch.isEmpty)
        batch.add(.work(queue: "builds", payload: false))
        batch.add(.work(queue: "builds", payload: false))
        batch.add(.work(queue: "emails", payload: true))
        batch.add(.finished([JobID(3), JobID(4)]))
        batch.add(.paused(queue: "builds", true))
        batch.add(.paused(queue: "builds", false))
        batch.add(.workers(queue: "emails", 8))
        batch.add(.workSomewhere)
        batch.add(.output([JobID(9), JobID(3)]))
        batch.add(.output([JobID(9)]))
        let payloads = batch.payloads(from: "node-x1")
        #expect(payloads.count == 1)
        let (sender, notices) = NoticeBatch.read(payloads[0])
        #expect(sender == "node-x1")
        #expect(notices == [
            .work(queue: "builds", payload: false), .work(queue: "emails", payload: true), .workSomewhere,
            .paused(queue: "builds", false), .workers(queue: "emails", 8), .finished([JobID(3), JobID(4)]),
            .output([JobID(3), JobID(9)]),
        ])
    }

    @Test("Many finished jobs are cut into payloads under the limit, each naming the sender; none is lost")
    func cutUnderTheLimit() {
        var batch = NoticeBatch()
        let ids = (1...5_000).map { JobID(Int64($0) * 1_000_003) }
        batch.add(.finished(ids))
        let payloads = batch.payloads(from: "s", limit: 7_500)
        #expect(payloads.count > 1)
        #expect(payloads.allSatisfy { $0.utf8.count <= 7_500 })
        var read: [JobID] = []
        for payload in payloads {
            let (sender, notices) = NoticeBatch.read(payload)
            #expect(sender == "s")
            for case .finished(let some) in notices { read += some }
        }
        #expect(read == ids)
    }

    @Test("Lines a node does not know, and malformed ones, are skipped")
    func unknownLines() {
        let (sender, notices) = NoticeBatch.read("s\nq something new\nn builds many\nw ok\nf 1 x 2")
        #expect(sender == "s")
        #expect(notices == [.work(queue: "ok", payload: false), .finished([JobID(1), JobID(2)])])
        #expect(NoticeBatch.read("").notices.isEmpty)
    }
}
