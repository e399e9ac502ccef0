import Foundation
@testable import JobAPI
import JobEngine
import JobModel
import Testing

/// `GET /v1/events?every=…`: the changes of a moment as one `changes` event.
@Suite struct EventSummaryTests {
    /// A change of job `id`, as the engine's change log records it.
    static func change(_ kind: JobChange.Kind, _ id: Int64) -> JobChange {
        let job = Job(id: JobID(rawValue: id), spec: JobSpec(argv: ["true"]), state: .queued, createdAt: .now(), updatedAt: .now())
        let event: EngineEvent = switch kind {
        case .submitted: .submitted(job)
        case .started: .started(job)
        case .requeued: .requeued(job)
        case .finished: .finished(job)
        }
        return JobChange(event)
    }

    @Test func aSummaryCountsEachKindAndNamesEachJobOnce() throws {
        var summary = EventSummary()
        #expect(summary.isEmpty)
        summary.add(Self.change(.submitted, 1))
        summary.add(Self.change(.started, 1))
        summary.add(Self.change(.finished, 1))
        summary.add(Self.change(.submitted, 2))
        let text = summary.take()
        #expect(text.hasPrefix("event: changes\ndata: ") && text.hasSuffix("\n\n"))
        let data = try #require(text.split(separator: "\n").first { $0.hasPrefix("data: ") }).dropFirst("data: ".count)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any])
        #expect(object["submitted"] as? Int == 2 && object["started"] as? Int == 1 && object["finished"] as? Int == 1)
        #expect(object["requeued"] as? Int == 0)
        #expect(object["ids"] as? [Int] == [1, 2] && object["more_ids"] as? Bool == false)
        #expect(summary.isEmpty, "taken")
    }

    @Test func pastAHundredJobsTheListSaysItIsIncomplete() {
        var summary = EventSummary()
        for id in 1...150 { summary.add(Self.change(.finished, Int64(id))) }
        let text = summary.take()
        #expect(text.contains("\"finished\":150"))
        #expect(text.contains("\"more_ids\":true"))
        #expect(text.contains(",100]") && !text.contains(",101"))
    }
}
