import Foundation
import JobModel
import Testing

/// What `jobq` prints, as a newcomer reads it: states that are true, lists that say what they
/// leave out, refusals in plain sentences.
@Suite("jobq output", .timeLimit(.minutes(2)))
struct JobqOutputTests {
    static func id(_ run: JobqCommandTests.Run) -> String {
        run.stdout.trimmingCharacters(in: .newlines)
    }

    @Test("With 1 worker, a job waiting for it is queued in status, list, show and --json; running is one")
    func truthfulStates() async throws {
        try await JobqCommandTests.withDaemon(config: "workers = 1\n") { fixture, socket in
            let started = try fixture.fifo("started")
            let command = ["sh", "-c", "echo $JOBQ_JOB_ID > \(started); exec sleep 30"]
            let first = Self.id(try await JobqCommandTests.jobq(socket, ["submit", "--"] + command))
            let second = Self.id(try await JobqCommandTests.jobq(socket, ["submit", "--"] + command))
            // The first has started; the second waits for the worker.
            #expect(await DaemonTests().lines(1, from: started) == [first])
            let status = try await JobqCommandTests.jobq(socket, ["status"])
            #expect(status.stdout.contains("workers 1/1 busy"), "\(status.stdout)")
            #expect(status.stdout.contains("queued 1") && status.stdout.contains("running 1"), "\(status.stdout)")
            let waiting = try await JobqCommandTests.jobq(socket, ["show", second])
            #expect(waiting.stdout.contains("state:     queued"), "\(waiting.stdout)")
            #expect(!waiting.stdout.contains("started:"))
            let json = try await JobqCommandTests.jobq(socket, ["show", "--json", second])
            #expect(json.stdout.contains(#""state":"queued""#) && json.stdout.contains(#""started_at":null"#), "\(json.stdout)")
            let listed = try await JobqCommandTests.jobq(socket, ["list", "--state", "running"])
            #expect(listed.stdout.split(separator: "\n").count == 2, "\(listed.stdout)")  // the header and one job
            _ = try await JobqCommandTests.jobq(socket, ["cancel", first, second])
        }
    }

    @Test("list says how many it left out, cuts long commands with …, escapes newlines, shows when a delayed job runs")
    func listSaysWhatItHides() async throws {
        try await JobqCommandTests.withDaemon { _, socket in
            try await JobqCommandTests.jobq(socket, ["pause"]).expectSuccess()
            for _ in 0..<3 { _ = try await JobqCommandTests.jobq(socket, ["submit", "--", "true"]) }
            let long = "echo " + String(repeating: "x", count: 100)
            _ = try await JobqCommandTests.jobq(socket, ["submit", "--shell", "--", "echo one\necho two"])
            _ = try await JobqCommandTests.jobq(socket, ["submit", "--", "sh", "-c", long])
            let delayed = Self.id(try await JobqCommandTests.jobq(socket, ["submit", "--delay", "1h", "--", "true"]))
            let limited = try await JobqCommandTests.jobq(socket, ["list", "--limit", "2"])
            #expect(limited.stdout.split(separator: "\n").count == 3)
            #expect(limited.stderr == "2 of 6 jobs shown, the most recent (--limit N, --all)\n", "\(limited.stderr)")
            let all = try await JobqCommandTests.jobq(socket, ["list", "--all"])
            #expect(all.stdout.split(separator: "\n").count == 7 && all.stderr.isEmpty)
            #expect(all.stdout.contains(#"echo one\necho two"#))
            #expect(all.stdout.contains("…") && !all.stdout.contains(String(repeating: "x", count: 100)))
            #expect(all.stdout.contains("RUN AT"))
            let show = try await JobqCommandTests.jobq(socket, ["show", delayed])
            // A full date and time, and how long until then.
            #expect(show.stdout.contains(try Regex(#"runs at: +\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \(in (59m|1h)"#)), "\(show.stdout)")
        }
    }

    @Test("Refusals in plain sentences; cancelling twice is done; the cancel names who did it")
    func plainWords() async throws {
        try await JobqCommandTests.withDaemon { _, socket in
            let done = Self.id(try await JobqCommandTests.jobq(socket, ["submit", "--", "true"]))
            try await JobqCommandTests.jobq(socket, ["wait", done]).expectSuccess()
            let retry = try await JobqCommandTests.jobq(socket, ["retry", done])
            #expect(retry.status == 4)
            #expect(retry.stderr.contains("job \(done) has succeeded: only a failed or cancelled job can be retried"), "\(retry.stderr)")
            let cancelDone = try await JobqCommandTests.jobq(socket, ["cancel", done])
            #expect(cancelDone.stderr.contains("has already finished (succeeded): there is nothing to cancel"), "\(cancelDone.stderr)")
            try await JobqCommandTests.jobq(socket, ["pause", "held"]).expectSuccess()
            let held = Self.id(try await JobqCommandTests.jobq(socket, ["submit", "-q", "held", "--", "true"]))
            try await JobqCommandTests.jobq(socket, ["cancel", held]).expectSuccess()
            let twice = try await JobqCommandTests.jobq(socket, ["cancel", held])
            #expect(twice.status == 0, "\(twice.stderr)")
            let shown = try await JobqCommandTests.jobq(socket, ["show", held])
            #expect(shown.stdout.contains("cancelled by uid \(getuid()) with jobq cancel"), "\(shown.stdout)")
            let after = try await JobqCommandTests.jobq(socket, ["submit", "--after", "9999", "--", "true"])
            #expect(after.status == 4)
            #expect(after.stderr.contains("it runs after job 9999, which does not exist") && !after.stderr.contains("job 0"), "\(after.stderr)")
        }
    }

    @Test("One job object everywhere: submit --json, show --json, list --json; a key's hit is said on stderr")
    func oneJobShape() async throws {
        try await JobqCommandTests.withDaemon { _, socket in
            try await JobqCommandTests.jobq(socket, ["pause"]).expectSuccess()
            func object(_ text: String) throws -> [String: Any] {
                let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
                return try #require((value as? [[String: Any]])?.first ?? value as? [String: Any])
            }
            let submitted = try await JobqCommandTests.jobq(socket, ["submit", "--json", "--key", "k1", "--env", "A=1", "--", "true"])
            let job = try object(submitted.stdout)
            let id = try #require(job["id"] as? Int)
            let shown = try object(try await JobqCommandTests.jobq(socket, ["show", "--json", "\(id)"]).stdout)
            let listed = try object(try await JobqCommandTests.jobq(socket, ["list", "--json"]).stdout)
            #expect(Set(job.keys) == Set(shown.keys) && Set(shown.keys) == Set(listed.keys))
            #expect((shown["env"] as? [String: String]) == ["A": "1"])
            // The same key again, with another command: the old id, and a note saying so.
            let again = try await JobqCommandTests.jobq(socket, ["submit", "--key", "k1", "--", "false"])
            #expect(again.status == 0 && again.stdout == "\(id)\n")
            #expect(again.stderr.contains("key 'k1' names job \(id), still queued: nothing new was submitted"), "\(again.stderr)")
            #expect(again.stderr.contains("runs `true`, not `false`"))
            let hit = try object(try await JobqCommandTests.jobq(socket, ["submit", "--json", "--key", "k1", "--", "true"]).stdout)
            #expect(Set(hit.keys) == Set(job.keys) && hit["id"] as? Int == id)
        }
    }

    @Test("join of an unknown queue is refused as workers refuses it; --timeout names say whose limit they are")
    func unknownQueueAndTimeouts() async throws {
        try await JobqCommandTests.withDaemon { _, socket in
            let join = try await JobqCommandTests.jobq(socket, ["join", "-q", "nosuch"])
            let workers = try await JobqCommandTests.jobq(socket, ["workers", "nosuch"])
            #expect(join.status == 4 && workers.status == 4)
            #expect(join.stderr == workers.stderr, "\(join.stderr)")
            let help = try await JobqCommandTests.jobq(socket, ["submit", "--help"])
            let text = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            #expect(text.contains("The job's time limit") && text.contains("Not a limit on --wait"))
            #expect(text.contains("for wait and join: 124 once their own --timeout"))
        }
    }
}

@Suite("jobq: the job's output", .timeLimit(.minutes(2)))
struct JobqJobOutputTests {
    @Test("submit --wait --follow prints the job's stdout and stderr as it runs; the id goes to stderr")
    func submitFollows() async throws {
        try await JobqCommandTests.withDaemon { _, socket in
            let run = try await JobqCommandTests.jobq(socket, ["submit", "--wait", "--follow", "--", "sh", "-c", "echo out; echo err >&2; exit 3"])
            #expect(run.status == 3)
            #expect(run.stdout == "out\n", "\(run.stdout)")
            #expect(run.stderr.hasPrefix("jobq: job ") && run.stderr.contains("err\n"), "\(run.stderr)")
            // Piped, without --follow: the id alone on stdout, as scripts read it.
            let quiet = try await JobqCommandTests.jobq(socket, ["submit", "--wait", "--", "sh", "-c", "echo out"])
            #expect(quiet.status == 0 && JobID(quiet.stdout.trimmingCharacters(in: .newlines)) != nil, "\(quiet.stdout)")
            #expect(try await JobqCommandTests.jobq(socket, ["submit", "--follow", "--", "true"]).status == 2)
        }
    }

    @Test("logs --both prints both streams together, in the order they were written")
    func both() async throws {
        try await JobqCommandTests.withDaemon { _, socket in
            // Two pipes: the order jobqd reads is the order written when the writes are apart.
            let id = try await JobqCommandTests.jobq(socket, ["submit", "--", "sh", "-c",
                "echo a; sleep 0.2; echo b >&2; sleep 0.2; echo c"]).stdout.trimmingCharacters(in: .newlines)
            #expect(try await JobqCommandTests.jobq(socket, ["wait", id]).status == 0)
            #expect(try await JobqCommandTests.jobq(socket, ["logs", "--both", id]).stdout == "a\nb\nc\n")
            #expect(try await JobqCommandTests.jobq(socket, ["logs", id]).stdout == "a\nc\n")
            #expect(try await JobqCommandTests.jobq(socket, ["logs", "--both", "--stderr", id]).status == 2)
        }
    }

    @Test("logs --tail N prints the last N lines")
    func tail() async throws {
        try await JobqCommandTests.withDaemon { _, socket in
            let id = try await JobqCommandTests.jobq(socket, ["submit", "--", "seq", "1", "100000"]).stdout
                .trimmingCharacters(in: .newlines)
            try await JobqCommandTests.jobq(socket, ["wait", id]).expectSuccess()
            #expect(try await JobqCommandTests.jobq(socket, ["logs", "--tail", "3", id]).stdout == "99998\n99999\n100000\n")
            #expect(try await JobqCommandTests.jobq(socket, ["logs", "-n", "0", id]).stdout == "")
            #expect(try await JobqCommandTests.jobq(socket, ["logs", "-n", "200000", id]).stdout.count == 588_895)
            #expect(try await JobqCommandTests.jobq(socket, ["logs", "--tail", "-1", id]).status == 2)
        }
    }
}

@Suite("jobq: each run's output", .timeLimit(.minutes(2)))
struct JobqRunOutputTests {
    @Test("Each run's output is kept, a retry by hand's too; logs --attempt N reads it; prune removes them all")
    func everyRunKept() async throws {
        try await JobqCommandTests.withDaemon { fixture, socket in
            let counter = fixture.directory + "/count"
            let script = "n=$(cat \(counter) 2>/dev/null || echo 0); n=$((n+1)); echo $n > \(counter); echo run $n; exit 1"
            let id = try await JobqCommandTests.jobq(socket, ["submit", "--retries", "1", "--", "sh", "-c", script]).stdout
                .trimmingCharacters(in: .newlines)
            #expect(try await JobqCommandTests.jobq(socket, ["wait", id]).status == 1)
            try await JobqCommandTests.jobq(socket, ["retry", id]).expectSuccess()
            #expect(try await JobqCommandTests.jobq(socket, ["wait", id]).status == 1)
            // Two attempts, then two more after the retry by hand: four runs.
            for run in 1...4 {
                #expect(try await JobqCommandTests.jobq(socket, ["logs", "--attempt", "\(run)", id]).stdout == "run \(run)\n")
            }
            #expect(try await JobqCommandTests.jobq(socket, ["logs", id]).stdout == "run 4\n")
            let missing = try await JobqCommandTests.jobq(socket, ["logs", "--attempt", "5", id])
            #expect(missing.status == 4 && missing.stderr.contains("has run 4 times: there is no attempt 5"), "\(missing.stderr)")
            #expect(try await JobqCommandTests.jobq(socket, ["show", id]).stdout.contains("runs:"))
            try await JobqCommandTests.jobq(socket, ["prune", "--older-than", "0s"]).expectSuccess()
            let logs = try FileManager.default.contentsOfDirectory(atPath: fixture.state + "/logs")
            #expect(!logs.contains { $0.hasPrefix("\(id).") }, "\(logs)")
        }
    }
}
