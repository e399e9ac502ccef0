import Foundation
import JobModel
import Testing

/// ``Job/compactJSON`` (the API's answers) reads back, with `JSONDecoder`, as the job it wrote.
@Suite("Job's JSON writer")
struct JobJSONWriterTests {
    let now = Timestamp(millisecondsSinceEpoch: 1_800_000_000_123)

    func roundTrip(_ job: Job, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let decoded = try JSONDecoder().decode(Job.self, from: Data(job.compactJSON.utf8))
        #expect(decoded == job, sourceLocation: sourceLocation)
        let viaCodable = try JSONDecoder().decode(Job.self, from: try JSONEncoder().encode(job))
        #expect(viaCodable == decoded, sourceLocation: sourceLocation)
    }

    @Test("A command job with every field, and one with none of the optional ones")
    func commands() throws {
        var spec = JobSpec(command: .argv(["sh", "-c", "echo \"quoted\" \\ \u{1}"]), cwd: "/srv", env: ["A": "1"], queue: "builds",
                           priority: -3, runAt: now, timeout: .milliseconds(1500),
                           retry: RetryPolicy(maxAttempts: 3, initialBackoff: .seconds(2)), after: [4, 5],
                           idempotencyKey: "k", label: "l", submitterUID: 1000)
        var job = Job(id: 42, spec: spec, state: .failed, attempts: 3, runAt: now, createdAt: now, updatedAt: now,
                      startedAt: now, finishedAt: now, exitCode: 2, signal: 9, error: "exited with status 2",
                      stdoutPath: "/l/42.out", stderrPath: "/l/42.err")
        job.interruptedAttempts = 1
        job.runs = 4
        try roundTrip(job)
        job.usage = RunUsage(userCPU: .microseconds(1_234_567), systemCPU: .microseconds(89), maxResidentBytes: 36_700_160)
        try roundTrip(job)
        spec = JobSpec(command: .shell("true"))
        try roundTrip(Job(id: 1, spec: spec, state: .queued, createdAt: now, updatedAt: now))
    }

    @Test("A payload job under lease, and one completed with a result")
    func payloads() throws {
        let value = JSONValue.object(["to": .string("ann"), "n": .array([.integer(-7), .number(2.5), .null, .bool(false)]),
                                      "nested": .object([:])])
        var job = Job(id: 7, spec: JobSpec(command: .payload(value), queue: "mail"), state: .running, attempts: 1,
                      createdAt: now, updatedAt: now, startedAt: now)
        job.runs = 2
        job.consumer = "c"
        job.lease = Lease(token: LeaseToken(job: 7, run: 2), consumer: "c", expiresAt: now)
        try roundTrip(job)
        job.state = .succeeded
        job.lease = nil
        job.result = .array([.string("ok")])
        try roundTrip(job)
    }
}
