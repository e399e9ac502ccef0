import JobModel
import JobStoring

/// Dependents changed by a job reaching a terminal state.
struct DependentsSettled {
    var unblocked: [JobID] = []
    var failed: [JobID] = []
}

/// A queue and a state: a key of `job_counts`.
struct QueueState: Hashable {
    var queue: String
    var state: JobState
}
