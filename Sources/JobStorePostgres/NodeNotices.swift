import JobModel

/// What one node tells the others through PostgreSQL's NOTIFY, as hints: a notice lost (a
/// listener reconnecting) delays what it would have hastened until the next heartbeat's look,
/// and never loses a job.
enum NodeNotice: Hashable, Sendable {
    /// Jobs of `queue` became ready (`payload`: a consumers' queue).
    case work(queue: String, payload: Bool)
    /// Jobs became ready in queues the sender did not name (dependents unblocked).
    case workSomewhere
    /// Jobs reached a terminal state.
    case finished([JobID])
    /// A queue was paused or resumed.
    case paused(queue: String, Bool)
    /// A queue's number of workers changed.
    case workers(queue: String, Int)
    /// Output of these jobs' runs was stored.
    case output([JobID])
}

/// The notices a node has yet to send, merged so that a burst of writes makes a few NOTIFY
/// payloads, not one per job: the sender sends what gathered since its last send.
struct NoticeBatch: Hashable, Sendable {
    private(set) var work: Set<String> = []
    private(set) var payloadWork: Set<String> = []
    private(set) var workSomewhere = false
    private(set) var finished: [JobID] = []
    /// The last pause or resume of each queue, and the last number of workers.
    private(set) var paused: [String: Bool] = [:]
    private(set) var workers: [String: Int] = [:]
    private(set) var output: Set<JobID> = []

    var isEmpty: Bool {
        work.isEmpty && payloadWork.isEmpty && !workSomewhere && finished.isEmpty && paused.isEmpty && workers.isEmpty
            && output.isEmpty
    }

    mutating func add(_ notice: NodeNotice) {
        switch notice {
        case let .work(queue, payload): if payload { payloadWork.insert(queue) } else { work.insert(queue) }
        case .workSomewhere: workSomewhere = true
        case .finished(let ids): finished += ids
        case let .paused(queue, paused): self.paused[queue] = paused
        case let .workers(queue, count): workers[queue] = count
        case .output(let ids): output.formUnion(ids)
        }
    }

    /// The batch as NOTIFY payloads from `sender`, each under PostgreSQL's 8,000-byte limit:
    /// lines of `w QUEUE`, `p QUEUE` (a consumers' queue), `w*`, `f ID…`, `z QUEUE 0|1`,
    /// `n QUEUE COUNT`, `o ID…` (output stored), after a first line naming the sender. Queue
    /// names hold no blanks or line ends (the API refuses them).
    func payloads(from sender: String, limit: Int = 7_500) -> [String] {
        var lines = work.sorted().map { "w \($0)" } + payloadWork.sorted().map { "p \($0)" }
        if workSomewhere { lines.append("w*") }
        lines += paused.sorted { $0.key < $1.key }.map { "z \($0.key) \($0.value ? 1 : 0)" }
        lines += workers.sorted { $0.key < $1.key }.map { "n \($0.key) \($0.value)" }
        lines += Self.idLines("f", finished, limit: limit / 2) + Self.idLines("o", output.sorted(), limit: limit / 2)
        var payloads: [String] = []
        var current = sender
        for line in lines {
            if current.utf8.count + line.utf8.count + 1 > limit {
                payloads.append(current)
                current = sender
            }
            current += "\n" + line
        }
        if current != sender { payloads.append(current) }
        return payloads
    }

    /// `ids` as lines of `TAG ID ID…`, each at most about `limit` bytes.
    private static func idLines(_ tag: String, _ ids: [JobID], limit: Int) -> [String] {
        var lines: [String] = []
        var line = tag
        for id in ids {
            if line.utf8.count > limit {
                lines.append(line)
                line = tag
            }
            line += " \(id.rawValue)"
        }
        if line != tag { lines.append(line) }
        return lines
    }

    /// Reads a payload of ``payloads(from:limit:)``: its sender and its notices (lines it does
    /// not know are skipped, so that an older node reads a newer one's payloads).
    static func read(_ payload: String) -> (sender: Substring, notices: [NodeNotice]) {
        let lines = payload.split(separator: "\n", omittingEmptySubsequences: true)
        guard let sender = lines.first else { return ("", []) }
        var notices: [NodeNotice] = []
        for line in lines.dropFirst() {
            let fields = line.split(separator: " ")
            switch (fields.first, fields.count) {
            case ("w", 2): notices.append(.work(queue: String(fields[1]), payload: false))
            case ("p", 2): notices.append(.work(queue: String(fields[1]), payload: true))
            case ("w*", 1): notices.append(.workSomewhere)
            case ("z", 3): notices.append(.paused(queue: String(fields[1]), fields[2] == "1"))
            case ("n", 3): if let count = Int(fields[2]) { notices.append(.workers(queue: String(fields[1]), count)) }
            case ("f", _): notices.append(.finished(fields[1...].compactMap { Int64($0).map { JobID($0) } }))
            case ("o", _): notices.append(.output(fields[1...].compactMap { Int64($0).map { JobID($0) } }))
            default: continue
            }
        }
        return (sender, notices)
    }
}
