import JobModel

/// The words ``EngineState`` decides with: the engine's life, and where each job it holds is.
extension EngineState {
    /// The engine's life: recovering, running, draining, stopped.
    enum Lifecycle: Equatable {
        case starting
        case running
        /// No more claims; running jobs go on until the grace deadline, then are stopped.
        case draining(graceDeadline: Timestamp, graceOver: Bool)
        case stopped
    }

    /// Where one job the engine holds is.
    enum JobPhase: Equatable {
        /// Its command runs.
        case running
        /// Its command is being stopped: by the user's cancel (its outcome is not recorded:
        /// the cancel is) or by the drain (it goes back to `queued`).
        case stopping(byUser: Bool)
        /// Its run ended; its outcome is being written.
        case recording
    }

    struct TrackedJob: Equatable {
        var job: Job
        var phase: JobPhase
    }
}
