import JobBasics
import JobModel
import JobStoring

/// What people change after a submit, kept in the store so that it lasts across restarts: a
/// queued job's priority, a queue's number of workers.
extension JobStore {
    /// Sets the priority of a queued or blocked job (in its row and its stored spec), so that
    /// the next claim orders it so. Refused for a job that started or finished.
    public func setPriority(_ id: JobID, _ priority: Int) async throws(JobStoreError) -> Job {
        guard JobLimits.priority.contains(priority) else {
            throw .invalidSpec(index: nil, .invalidField("priority", "must be from \(JobLimits.priority.lowerBound) to \(JobLimits.priority.upperBound)"))
        }
        return try await write { context throws(JobStoreError) in
            guard let state = try context.state(of: id) else { throw .notFound(id) }
            guard state == .queued || state == .blocked else {
                throw .conflict(id, state == .running
                    ? "it is running: a priority orders jobs that wait, so it no longer matters"
                    : "it has finished (\(state.rawValue)): a priority orders jobs that wait")
            }
            guard let job = try context.jobs("""
                UPDATE jobs SET priority = ?2, spec = json_set(spec, '$.priority', ?2), updated_at = ?3
                WHERE id = ?1
                RETURNING \(jobColumns)
                """, bind: { statement throws(SQLiteError) in
                try statement.bind(1, id.rawValue)
                try statement.bind(2, priority)
                try statement.bind(3, context.clock().millisecondsSinceEpoch)
            }).first else { throw .notFound(id) }
            return job
        }
    }

    /// Records a queue's number of workers, set at run time, for the next start.
    public func setWorkers(_ queue: String, _ workers: Int) async throws(JobStoreError) {
        try await write { context throws(JobStoreError) in
            try context.withStatement("""
                INSERT INTO queue_workers (queue, workers) VALUES (?1, ?2)
                ON CONFLICT (queue) DO UPDATE SET workers = excluded.workers
                """) { statement throws(SQLiteError) in
                try statement.bind(1, queue)
                try statement.bind(2, workers)
                _ = try statement.step()
            }
        }
    }

    /// The numbers of workers set at run time, by queue.
    public func storedWorkers() async throws(JobStoreError) -> [String: Int] {
        try await read { context throws(JobStoreError) in
            try context.withStatement("SELECT queue, workers FROM queue_workers") { statement throws(SQLiteError) in
                var workers: [String: Int] = [:]
                while try statement.step() { workers[statement.text(0)] = Int(statement.int64(1)) }
                return workers
            }
        }
    }
}
