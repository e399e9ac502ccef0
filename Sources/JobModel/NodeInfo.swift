/// One jobqd among the nodes of a shared (PostgreSQL) store, as `GET /v1/status` lists it: when
/// it last beat, whether the others took it for dead, what it serves and runs.
public struct NodeInfo: Codable, Hashable, Sendable {
    public var name: String
    /// When the node last started (or registered again after it lapsed).
    public var startedAt: Timestamp
    /// Its last heartbeat.
    public var heartbeatAt: Timestamp
    /// Whether its heartbeat lapsed and its running jobs went to the other nodes (until it
    /// registers again).
    public var lapsed: Bool
    /// The queues whose jobs it runs (`nil`: every queue).
    public var serves: [String]?
    /// Its jobs running now.
    public var running: Int
    /// Whether this is the node that answered.
    public var isSelf: Bool

    public init(
        name: String, startedAt: Timestamp, heartbeatAt: Timestamp, lapsed: Bool, serves: [String]?, running: Int,
        isSelf: Bool
    ) {
        self.name = name
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
        self.lapsed = lapsed
        self.serves = serves
        self.running = running
        self.isSelf = isSelf
    }

    enum CodingKeys: String, CodingKey {
        case name
        case startedAt = "started_at"
        case heartbeatAt = "heartbeat_at"
        case lapsed, serves, running
        case isSelf = "self"
    }
}
