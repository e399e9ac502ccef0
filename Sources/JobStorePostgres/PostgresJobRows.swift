import Foundation
import JobModel
import JobStoring
import PostgresNIO

/// The columns every job query selects, in the order ``PostgresJobRows/job(from:)`` reads them
/// (those of the SQLite store's `jobColumns`).
let jobColumns = """
    id, state, spec, attempts, created_at, updated_at, started_at, finished_at, \
    exit_code, signal, error, stdout_path, stderr_path, run_at, interrupted, runs, \
    lease_expires_at, consumer, result, cpu_user_us, cpu_system_us, max_rss_kib
    """

/// How many columns ``jobColumns`` names: a statement's own columns follow them.
let jobColumnCount = jobColumns.split(separator: ",").count

/// Reads job rows as the SQLite store does: the spec from the JSON the store wrote, the rest
/// from columns.
enum PostgresJobRows {
    /// Stored specs and results were written by the store itself (no check for unknown fields).
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.userInfo[.jobqWrittenJSON] = true
        return decoder
    }()

    /// The job in a row that selected ``jobColumns``.
    static func job(from row: PostgresRow) throws -> Job {
        let columns = row.makeRandomAccess()
        let id = JobID(try columns[0].decode(Int64.self))
        let stateName = try columns[1].decode(String.self)
        guard let state = JobState(rawValue: stateName) else {
            throw corrupt("job \(id) has an unknown state '\(stateName)'")
        }
        let specText = try columns[2].decode(String.self)
        let spec: JobSpec
        if let read = Array(specText.utf8).withUnsafeBufferPointer(BodyReader.spec) {
            spec = read
        } else {
            do {
                spec = try decoder.decode(JobSpec.self, from: Data(specText.utf8))
            } catch {
                throw corrupt("job \(id) has an unreadable spec: \(error)")
            }
        }
        func time(_ index: Int) throws -> Timestamp? {
            try columns[index].decode(Int64?.self).map(Timestamp.init(millisecondsSinceEpoch:))
        }
        var job = Job(
            id: id, spec: spec, state: state,
            attempts: Int(try columns[3].decode(Int32.self)),
            createdAt: Timestamp(millisecondsSinceEpoch: try columns[4].decode(Int64.self)),
            updatedAt: Timestamp(millisecondsSinceEpoch: try columns[5].decode(Int64.self)),
            startedAt: try time(6), finishedAt: try time(7),
            exitCode: try columns[8].decode(Int32?.self), signal: try columns[9].decode(Int32?.self),
            error: try columns[10].decode(String?.self),
            stdoutPath: try columns[11].decode(String?.self), stderrPath: try columns[12].decode(String?.self))
        job.runAt = Timestamp(millisecondsSinceEpoch: try columns[13].decode(Int64.self))
        job.interruptedAttempts = Int(try columns[14].decode(Int32.self))
        job.runs = Int(try columns[15].decode(Int32.self))
        job.consumer = try columns[17].decode(String?.self)
        if state == .running, let consumer = job.consumer, let expiry = try time(16) {
            job.lease = Lease(token: LeaseToken(job: id, run: job.runs), consumer: consumer, expiresAt: expiry)
        }
        if let result = try columns[18].decode(String?.self) {
            do {
                job.result = try decoder.decode(JSONValue.self, from: Data(result.utf8))
            } catch {
                throw corrupt("job \(id) has an unreadable result: \(error)")
            }
        }
        if let user = try columns[19].decode(Int64?.self), let system = try columns[20].decode(Int64?.self),
           let resident = try columns[21].decode(Int64?.self) {
            job.usage = RunUsage(userCPU: .microseconds(user), systemCPU: .microseconds(system), maxResidentBytes: resident * 1024)
        }
        return job
    }

    /// A row the store cannot read: its database was changed by something else.
    static func corrupt(_ message: String) -> JobStoreError {
        .storage(StorageFailure(kind: .other, message: message, detail: "PostgreSQL: \(message)"))
    }
}
