import Foundation
import JobModel
import Testing

@Suite("jobq: resource limits, and what each run used", .timeLimit(.minutes(2)))
struct JobqAccountingTests {
    @Test("show gives the last run's CPU and peak memory and a line per run; --json carries usage")
    func showsUsage() async throws {
        try await JobqCommandTests.withDaemon { _, socket in
            // Each run reads 16 MiB into one buffer and fails; one retry.
            let command = "dd if=/dev/zero bs=16M count=1 of=/dev/null 2> /dev/null; exit 3"
            let id = try await JobqCommandTests.jobq(socket, ["submit", "--retries", "1", "--", "sh", "-c", command]).stdout
                .trimmingCharacters(in: .newlines)
            #expect(try await JobqCommandTests.jobq(socket, ["wait", id]).status != 0)
            let shown = try await JobqCommandTests.jobq(socket, ["show", id], environment: ["NO_COLOR": "1"]).stdout
            #expect(shown.contains("used:") && shown.contains(" s CPU (") && shown.contains("MiB peak memory"), "\(shown)")
            #expect(shown.contains("run 1:") && shown.contains("run 2:") && shown.contains("exited with status 3"), "\(shown)")
            let json = try await JobqCommandTests.jobq(socket, ["show", "--json", id]).stdout
            let job = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            let usage = try #require(job["usage"] as? [String: Any], "\(json)")
            #expect((usage["max_rss_bytes"] as? Int ?? 0) >= 16 << 20, "\(usage)")
            #expect(usage["user_cpu_seconds"] is Double || usage["user_cpu_seconds"] is Int, "\(usage)")
        }
    }

    @Test("submit --max-cpu: the job is killed at its limit and show names it; a bad size is a usage error")
    func limits() async throws {
        try await JobqCommandTests.withDaemon { _, socket in
            let submitted = try await JobqCommandTests.jobq(socket, ["submit", "--max-cpu", "1s", "--max-files", "64", "--", "awk", "BEGIN { while (1) x++ }"])
            let id = submitted.stdout.trimmingCharacters(in: .newlines)
            #expect(submitted.status == 0, "\(submitted.stderr)")
            #expect(try await JobqCommandTests.jobq(socket, ["wait", id]).status != 0)
            let shown = try await JobqCommandTests.jobq(socket, ["show", id], environment: ["NO_COLOR": "1"]).stdout
            #expect(shown.contains("limits:") && shown.contains("CPU 1 s, 64 files"), "\(shown)")
            #expect(shown.contains("SIGXCPU") && shown.contains("it reached its CPU limit of 1 s"), "\(shown)")
            let bad = try await JobqCommandTests.jobq(socket, ["submit", "--max-memory", "lots", "--", "true"])
            #expect(bad.status == 2 && bad.stderr.contains("--max-memory: 'lots' is not a size"), "\(bad.stderr)")
        }
    }
}
