import Foundation
import JobCLI
import JobModel
import Testing

@Suite("Durations, times and their display")
struct FormatsTests {
    @Test("Durations: 90s, 5m, 1h30m, 2d, 500ms and plain seconds", arguments: [
        ("90s", 90_000), ("5m", 300_000), ("1h30m", 5_400_000), ("2d", 172_800_000), ("500ms", 500),
        ("1.5", 1_500), ("0", 0), ("1w", 604_800_000), ("1m30s", 90_000), ("2h0m5s", 7_205_000),
    ] as [(String, Int64)])
    func durations(_ text: String, _ milliseconds: Int64) {
        #expect(Formats.duration(text) == .milliseconds(milliseconds))
    }

    @Test("Not durations", arguments: ["", "s", "5x", "-5s", "5m-", "1h30", "abc", "nan", "-1"])
    func notDurations(_ text: String) {
        #expect(Formats.duration(text) == nil)
    }

    @Test("ISO 8601 times, with a zone, an offset, fractions, or local")
    func times() throws {
        #expect(Formats.time("2026-11-25T18:00:00Z")?.millisecondsSinceEpoch == 1_795_629_600_000)
        #expect(Formats.time("2026-11-25T19:00:00+01:00")?.millisecondsSinceEpoch == 1_795_629_600_000)
        #expect(Formats.time("2026-11-25T18:00:00.250Z")?.millisecondsSinceEpoch == 1_795_629_600_250)
        let local = try #require(Formats.time("2026-11-25T18:00"))
        let offset = Int64(TimeZone.current.secondsFromGMT(for: Date(timeIntervalSince1970: 1_795_629_600))) * 1000
        #expect(local.millisecondsSinceEpoch == 1_795_629_600_000 - offset)
        #expect(Formats.time("tomorrow") == nil)
        #expect(Formats.time("2026-13-01T00:00:00Z") == nil)
    }

    @Test("Durations read back as people write them")
    func describeDurations() {
        #expect(Formats.describe(milliseconds: 850) == "850ms")
        #expect(Formats.describe(milliseconds: 4_200) == "4.2s")
        #expect(Formats.describe(milliseconds: 42_000) == "42s")
        #expect(Formats.describe(milliseconds: 185_000) == "3m05s")
        #expect(Formats.describe(milliseconds: 7_620_000) == "2h07m")
        #expect(Formats.describe(milliseconds: 273_600_000) == "3d04h")
    }

    @Test("Commands are shown quoted where a shell would need it")
    func describeCommands() {
        #expect(DisplayText.command(Command.argv(["make", "test"])) == "make test")
        #expect(DisplayText.command(Command.argv(["echo", "a b", "it's"])) == #"echo 'a b' 'it'\''s'"#)
        #expect(DisplayText.command(Command.argv(["printf", ""])) == "printf ''")
        #expect(DisplayText.command(Command.shell("ls | wc -l")) == "ls | wc -l")
    }
}

@Suite("Command line")
struct CommandLineTests {
    @Test("Usage errors exit 2 without reaching a daemon", arguments: [
        ["submit"], ["submit", "--delay", "soon", "--", "true"], ["submit", "--delay", "5s", "--at", "2026-01-01", "--", "true"],
        ["submit", "--queue", "bad name", "--", "true"], ["submit", "--retries", "-1", "--", "true"],
        ["submit", "--env", "NOEQUALS", "--", "true"], ["submit", "--after", "x", "--", "true"], ["wait"], ["wait", "abc"],
        ["list", "--limit", "0"], ["workers", "q", "0"], ["prune", "--older-than", "forever"], ["nonsense"],
    ])
    func usageErrors(_ arguments: [String]) async {
        #expect(await Jobq.run(["--socket", "/nonexistent/jobq.sock"] + arguments) == 2)
    }

    @Test("An unreachable daemon exits 3")
    func unreachable() async {
        #expect(await Jobq.run(["--socket", "/nonexistent/jobq.sock", "status"]) == 3)
        #expect(await Jobq.run(["status", "--socket", "/nonexistent/jobq.sock"]) == 3)
    }

    @Test("--help exits 0")
    func help() async {
        #expect(await Jobq.run(["--help"]) == 0)
        #expect(await Jobq.run(["submit", "--help"]) == 0)
    }
}
