import Foundation
import JobModel
import JobStoring

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
    /// Resource limits per queue (`*`: every queue, under a queue's own settings).
    public var queueLimits: [String: QueueLimits]
    /// Whether submits by root are refused (jobs run as their submitters, and root's are not
    /// allowed).
    public var refuseRootJobs = false
    /// Who may submit (nil: everyone who reaches the socket).
    public var submitPolicy: SubmitPolicy?
    /// The daemon's own user, who may always submit.
    public var daemonUID: uid_t = getuid()
    /// How a queue without its own entry in ``claimPolicies`` orders its claims.
    public var defaultClaimPolicy: ClaimPolicy
    /// Claim policies per named queue.
    public var claimPolicies: [String: ClaimPolicy]
    /// The queues whose jobs this engine runs (`nil`: every queue). A node of a shared store
    /// serving a subset leaves the others' jobs to the nodes that serve them.
    public var servedQueues: Set<String>?

    public init(
        defaultConcurrency: Int = 2,
        concurrency: [String: Int] = [:],
        maxRunning: Int? = nil,
        drainGrace: Duration = .seconds(10),
        storeRetryDelay: Duration = .seconds(1),
        queueLimits: [String: QueueLimits] = [:],
        refuseRootJobs: Bool = false,
        submitPolicy: SubmitPolicy? = nil,
        defaultClaimPolicy: ClaimPolicy = ClaimPolicy(),
        claimPolicies: [String: ClaimPolicy] = [:],
        servedQueues: Set<String>? = nil
    ) {
        self.defaultConcurrency = max(1, defaultConcurrency)
        self.concurrency = concurrency
        self.maxRunning = maxRunning
        self.drainGrace = drainGrace
        self.storeRetryDelay = storeRetryDelay
        self.queueLimits = queueLimits
        self.refuseRootJobs = refuseRootJobs
        self.submitPolicy = submitPolicy
        self.defaultClaimPolicy = defaultClaimPolicy
        self.claimPolicies = claimPolicies
        self.servedQueues = servedQueues
    }

    /// How `queue`'s claims order its jobs across submitters and cap them.
    public func claimPolicy(for queue: String) -> ClaimPolicy {
        claimPolicies[queue] ?? defaultClaimPolicy
    }

    /// Queue `queue`'s resource limits: its own settings, then those of `*`.
    public func limits(for queue: String) -> QueueLimits {
        let every = queueLimits["*"] ?? QueueLimits()
        return (queueLimits[queue] ?? QueueLimits()).filled(from: every)
    }

    /// `specs` as they may be stored: refused whole with ``JobStoreError/submitterRefused(_:)``
    /// when root's jobs are refused, else with their queues' limits applied
    /// (``QueueLimits/apply(to:queue:)``), the first refusal thrown with the spec's index (nil
    /// for a single spec).
    func admitting(_ specs: [JobSpec]) throws(JobStoreError) -> [JobSpec] {
        if refuseRootJobs, specs.contains(where: { $0.submitterUID == 0 }) {
            throw .submitterRefused("jobs of root are refused: jobs run as their submitters (run_as = submitter) and allow_root_jobs is off")
        }
        guard !queueLimits.isEmpty else { return specs }
        var specs = specs
        for index in specs.indices where !specs[index].command.isPayload {
            do throws(JobSpecError) {
                specs[index].limits = try limits(for: specs[index].queue).apply(to: specs[index].limits, queue: specs[index].queue)
            } catch {
                throw .invalidSpec(index: specs.count == 1 ? nil : index, error)
            }
        }
        return specs
    }
}
