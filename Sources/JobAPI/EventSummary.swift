import JobEngine
import JobModel

/// The job changes of a moment, for `GET /v1/events?every=SECONDS`: how many of each event, and
/// which jobs, sent as one `changes` event instead of one event (and one job's JSON) per change,
/// for a view that only needs to know when to look again.
struct EventSummary: Sendable {
    /// The most ids listed; past it, `more_ids` says the list is incomplete.
    static let maxIDs = 100

    private var counts: [String: Int] = [:]
    private var ids: [JobID] = []
    private var seen: Set<JobID> = []
    private var moreIDs = false

    var isEmpty: Bool { counts.isEmpty }

    /// Some changes were dropped before they were read: the ids listed are not all.
    mutating func missedSome() {
        moreIDs = true
    }

    mutating func add(_ change: JobChange) {
        counts[change.kind.rawValue, default: 0] += 1
        let id = change.id
        guard !seen.contains(id) else { return }
        if ids.count < Self.maxIDs {
            ids.append(id)
            seen.insert(id)
        } else {
            moreIDs = true
        }
    }

    /// `event: changes` with `{"finished":2,"ids":[41,42],"more_ids":false,"started":1,…}`,
    /// and the summary emptied.
    mutating func take() -> String {
        let names = ["submitted", "started", "requeued", "finished"].map { "\"\($0)\":\(counts[$0] ?? 0)" }
        let text = "event: changes\ndata: {\(names.joined(separator: ",")),\"ids\":[\(ids.map(\.description).joined(separator: ","))],"
            + "\"more_ids\":\(moreIDs)}\n\n"
        self = EventSummary()
        return text
    }
}
