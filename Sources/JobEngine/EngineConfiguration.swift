/// How the engine runs queues.
public struct EngineConfiguration: Sendable {
    /// Workers of a queue that has no entry in ``concurrency`` (created on first use).
    public var defaultConcurrency: Int
    /// Workers per named queue.
    public var concurrency: [String: Int]
    /// At most this many jobs run at once over every queue (`nil`: only the queues' limits).
    public var maxRunning: Int?
    /// On shutdown, how long running jobs may go on before they are stopped and requeued.
    public var drainGrace: Duration
    /// How long a dispatcher waits before trying again after the store failed (a full disk, a
    /// lock held by another process).
    public var storeRetryDelay: Duration

    public init(
        defaultConcurrency: Int = 2,
        concurrency: [String: Int] = [:],
        maxRunning: Int? = nil,
        drainGrace: Duration = .seconds(10),
        storeRetryDelay: Duration = .seconds(1)
    ) {
        self.defaultConcurrency = max(1, defaultConcurrency)
        self.concurrency = concurrency
        self.maxRunning = maxRunning
        self.drainGrace = drainGrace
        self.storeRetryDelay = storeRetryDelay
    }
}
