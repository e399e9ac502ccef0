/// The bodies the API and its clients exchange (docs/api.md), shared so that the daemon and
/// `jobq` cannot disagree on a field's name.

/// The answer to `POST /v1/jobs`: one item per submitted spec, in order: the new job's id and
/// state (`queued`, `blocked`, or `failed` when a job it runs after had already failed), or, when
/// the spec's idempotency key named a live job, that job whole.
public struct SubmitResponse: Codable, Hashable, Sendable {
    public struct Item: Codable, Hashable, Sendable {
        public var id: JobID
        /// `false` when the spec's idempotency key named a live job, which is in `job`.
        public var created: Bool
        public var state: JobState
        /// The existing job, when `created` is `false`.
        public var job: Job?

        public init(id: JobID, created: Bool, state: JobState, job: Job? = nil) {
            self.id = id
            self.created = created
            self.state = state
            self.job = job
        }
    }

    public var jobs: [Item]

    public init(jobs: [Item]) {
        self.jobs = jobs
    }
}

/// A page of `GET /v1/jobs`; `next_cursor`, when present, is the `after` of the next page.
public struct JobListResponse: Codable, Hashable, Sendable {
    public var jobs: [Job]
    public var nextCursor: JobID?

    public init(jobs: [Job], nextCursor: JobID?) {
        self.jobs = jobs
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey {
        case jobs
        case nextCursor = "next_cursor"
    }
}

/// A named queue: its workers and its jobs by state.
public struct QueueInfo: Codable, Hashable, Sendable {
    public var name: String
    public var concurrency: Int
    public var paused: Bool
    /// Jobs whose command runs now.
    public var running: Int
    /// Jobs in the store by state (every state present).
    public var states: [String: Int]
    /// `command` (jobqd's workers run its jobs) or `payload` (consumers lease them).
    public var kind: String
    /// Lease requests waiting for work (a payload queue's idle consumers).
    public var waitingConsumers: Int

    public init(name: String, concurrency: Int, paused: Bool, running: Int, states: [String: Int],
                kind: String = "command", waitingConsumers: Int = 0) {
        self.name = name
        self.concurrency = concurrency
        self.paused = paused
        self.running = running
        self.states = states
        self.kind = kind
        self.waitingConsumers = waitingConsumers
    }

    enum CodingKeys: String, CodingKey {
        case name, concurrency, paused, running, states, kind
        case waitingConsumers = "waiting_consumers"
    }

    /// Jobs not yet terminal: queued, blocked, running.
    public var live: Int { (states["queued"] ?? 0) + (states["blocked"] ?? 0) + (states["running"] ?? 0) }
}

/// `GET /v1/queues`.
public struct QueueList: Codable, Hashable, Sendable {
    public var queues: [QueueInfo]

    public init(queues: [QueueInfo]) {
        self.queues = queues
    }
}

/// `GET /v1/status`.
public struct StatusReport: Codable, Hashable, Sendable {
    public struct Workers: Codable, Hashable, Sendable {
        public var busy: Int
        /// The queues' workers, or the global cap when it is lower.
        public var total: Int
        /// The cap on running jobs over every queue (`max_running`), when one is set.
        public var maxRunning: Int?

        public init(busy: Int, total: Int, maxRunning: Int? = nil) {
            self.busy = busy
            self.total = total
            self.maxRunning = maxRunning
        }

        enum CodingKeys: String, CodingKey {
            case busy, total
            case maxRunning = "max_running"
        }
    }

    public var version: String
    public var uptimeSeconds: Double
    public var states: [String: Int]
    public var workers: Workers
    public var queues: [QueueInfo]
    /// The nodes sharing the store (absent on a SQLite store, which has one daemon).
    public var nodes: [NodeInfo]?

    public init(
        version: String, uptimeSeconds: Double, states: [String: Int], workers: Workers, queues: [QueueInfo], nodes: [NodeInfo]? = nil
    ) {
        self.version = version
        self.uptimeSeconds = uptimeSeconds
        self.states = states
        self.workers = workers
        self.queues = queues
        self.nodes = nodes
    }

    enum CodingKeys: String, CodingKey {
        case version
        case uptimeSeconds = "uptime_seconds"
        case states, workers, queues, nodes
    }
}

/// `POST /v1/wait`: the ids, and how long to wait at most (absent: until they are done or the
/// client goes away).
public struct WaitRequest: Codable, Hashable, Sendable {
    public var ids: [JobID]
    public var timeoutSeconds: Double?

    public init(ids: [JobID], timeoutSeconds: Double? = nil) {
        self.ids = ids
        self.timeoutSeconds = timeoutSeconds
    }

    enum CodingKeys: String, CodingKey {
        case ids
        case timeoutSeconds = "timeout_seconds"
    }
}

/// The answer to a wait: `done` when every job is terminal, else the jobs as they were at the
/// timeout.
public struct WaitResponse: Codable, Hashable, Sendable {
    public var done: Bool
    public var jobs: [Job]

    public init(done: Bool, jobs: [Job]) {
        self.done = done
        self.jobs = jobs
    }
}

/// `POST /v1/join` and `POST /v1/queues/{name}/join`.
public struct JoinRequest: Codable, Hashable, Sendable {
    public var timeoutSeconds: Double?

    public init(timeoutSeconds: Double? = nil) {
        self.timeoutSeconds = timeoutSeconds
    }

    enum CodingKeys: String, CodingKey {
        case timeoutSeconds = "timeout_seconds"
    }
}

/// The answer to a join: `done` when no job of the queue (of any queue, for `/v1/join`) is
/// queued, blocked or running.
public struct JoinResponse: Codable, Hashable, Sendable {
    public var done: Bool
    public var queue: String?
    public var queues: [QueueInfo]

    public init(done: Bool, queue: String?, queues: [QueueInfo]) {
        self.done = done
        self.queue = queue
        self.queues = queues
    }
}

/// `POST /v1/prune`: delete terminal jobs (and their logs) finished longer ago than this.
public struct PruneRequest: Codable, Hashable, Sendable {
    public var olderThanSeconds: Double

    public init(olderThanSeconds: Double) {
        self.olderThanSeconds = olderThanSeconds
    }

    enum CodingKeys: String, CodingKey {
        case olderThanSeconds = "older_than_seconds"
    }
}

/// The answer to a prune.
public struct PruneResponse: Codable, Hashable, Sendable {
    public var pruned: Int

    public init(pruned: Int) {
        self.pruned = pruned
    }
}

/// `PUT /v1/queues/{name}/concurrency`.
public struct ConcurrencyRequest: Codable, Hashable, Sendable {
    public var concurrency: Int

    public init(concurrency: Int) {
        self.concurrency = concurrency
    }
}

/// `PUT /v1/jobs/{id}/priority`'s body.
public struct PriorityRequest: Codable, Hashable, Sendable {
    public var priority: Int

    public init(priority: Int) {
        self.priority = priority
    }
}

/// Every error's body: `{"error":{"code":"…","message":"…"}}`.
public struct ErrorResponse: Codable, Hashable, Sendable {
    public struct Detail: Codable, Hashable, Sendable {
        public var code: String
        public var message: String

        public init(code: String, message: String) {
            self.code = code
            self.message = message
        }
    }

    public var error: Detail

    public init(code: String, message: String) {
        error = Detail(code: code, message: message)
    }
}

/// `GET /healthz`.
public struct HealthResponse: Codable, Hashable, Sendable {
    public var status: String

    public init(status: String) {
        self.status = status
    }
}
