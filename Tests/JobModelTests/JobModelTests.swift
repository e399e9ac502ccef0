import Foundation
import JobBasics
import JobModel
import JobQueueTesting
import Testing

@Suite("JobModel")
struct JobModelTests {
    let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(json.utf8))
    }

    @Test("A minimal spec takes every default")
    func minimalSpec() throws {
        let spec = try decode(JobSpec.self, #"{"argv": ["true"]}"#)
        #expect(spec == JobSpec(command: .argv(["true"])))
        #expect(spec.queue == "default")
        #expect(spec.retry == .none)
        try spec.validate()
    }

    @Test("Every field round-trips through the API's JSON names")
    func fullSpecRoundTrip() throws {
        let json = #"""
            {"shell": "ls | wc -l", "cwd": "/srv", "env": {"LANG": "C"}, "queue": "nightly",
             "priority": 5, "run_at": "2026-11-26T02:00:00.250Z", "timeout_seconds": 1.5,
             "retry": {"max_attempts": 3, "backoff_seconds": 2, "max_backoff_seconds": 60,
                       "multiplier": 3, "jitter": 0},
             "after": [4, 7], "idempotency_key": "k1", "label": "backup", "submitter_uid": 1000}
            """#
        let spec = try decode(JobSpec.self, json)
        #expect(spec.command == .shell("ls | wc -l"))
        #expect(spec.runAt == Timestamp(rfc3339: "2026-11-26T02:00:00.250Z"))
        #expect(spec.runAt?.millisecondsSinceEpoch == 1_795_658_400_250)
        #expect(spec.timeout == .milliseconds(1500))
        #expect(spec.retry == RetryPolicy(maxAttempts: 3, initialBackoff: .seconds(2), maxBackoff: .seconds(60), multiplier: 3, jitter: 0))
        #expect(spec.after == [4, 7])
        #expect(spec.submitterUID == 1000)
        let again = try JSONDecoder().decode(JobSpec.self, from: encoder.encode(spec))
        #expect(again == spec)
    }

    @Test("Unknown and contradictory fields are refused with the field's name")
    func strictDecoding() throws {
        #expect(throws: DecodingError.self) { try decode(JobSpec.self, #"{"argv": ["x"], "prority": 1}"#) }
        #expect(throws: DecodingError.self) { try decode(JobSpec.self, #"{"argv": ["x"], "shell": "x"}"#) }
        #expect(throws: DecodingError.self) { try decode(JobSpec.self, #"{"queue": "q"}"#) }
        #expect(throws: DecodingError.self) { try decode(JobSpec.self, #"{"argv": "true"}"#) }
        #expect(throws: DecodingError.self) { try decode(JobSpec.self, #"{"argv": ["x"], "timeout_seconds": -1}"#) }
        #expect(throws: DecodingError.self) { try decode(JobSpec.self, #"{"argv": ["x"], "run_at": "tomorrow"}"#) }
        #expect(throws: DecodingError.self) { try decode(JobSpec.self, #"{"argv": ["x"], "retry": {"attempts": 2}}"#) }
        // null is not a value (schemathesis: "retry": null was stored as if absent).
        #expect(throws: DecodingError.self) { try decode(JobSpec.self, #"{"argv": ["x"], "retry": null}"#) }
        #expect(throws: DecodingError.self) { try decode(JobSpec.self, #"{"argv": ["x"], "cwd": null}"#) }
        #expect(throws: DecodingError.self) { try decode(JobSpec.self, #"{"argv": ["x"], "retry": {"max_attempts": null}}"#) }
        // max_attempts is required in a retry policy, as docs/openapi.yaml says (schemathesis:
        // a policy without it was stored as one attempt, no retry).
        #expect(throws: DecodingError.self) { try decode(JobSpec.self, #"{"argv": ["x"], "retry": {"backoff_seconds": 5}}"#) }
        // Seconds are counted from their digits (8338.755 s was 8,338,754 ms through a Double);
        // a number beyond a Decimal's exponents is still a number (schemathesis sent 5e-324,
        // which a Decimal decode refused as "not valid JSON").
        #expect(try decode(JobSpec.self, #"{"argv": ["x"], "timeout_seconds": 8338.755}"#).timeout == .milliseconds(8_338_755))
        #expect(try decode(JobSpec.self, #"{"argv": ["x"], "timeout_seconds": 1.5e3}"#).timeout == .seconds(1500))
        let tiny = try decode(JobSpec.self, #"{"argv": ["x"], "retry": {"max_attempts": 2, "backoff_seconds": 4.9406564584124654e-324}}"#)
        #expect(tiny.retry.initialBackoff == .zero)
        #expect(throws: DecodingError.self) { try decode(JobSpec.self, #"{"argv": ["x"], "timeout_seconds": 1.7976931348623157e308}"#) }
        #expect(throws: DecodingError.self) { try decode(JobSpec.self, #"{"argv": ["x"], "timeout_seconds": "5"}"#) }
        // A first wait above the default cap raises the cap, a cap below the default first wait
        // lowers it, rather than being refused (schemathesis sent both).
        let patient = try decode(JobSpec.self, #"{"argv": ["x"], "retry": {"max_attempts": 2, "backoff_seconds": 600}}"#)
        #expect(patient.retry.maxBackoff == .seconds(600))
        #expect(throws: Never.self) { try patient.validate() }
        let eager = try decode(JobSpec.self, #"{"argv": ["x"], "retry": {"max_attempts": 2, "max_backoff_seconds": 0.1}}"#)
        #expect(eager.retry.initialBackoff == .milliseconds(100))
        #expect(throws: Never.self) { try eager.validate() }
        do {
            _ = try decode(JobSpec.self, #"{"argv": ["x"], "prority": 1}"#)
        } catch {
            #expect(String(describing: error).contains("unknown field 'prority'"))
        }
    }

    @Test("JSON jobq wrote itself (a stored spec) is read without the unknown- and null-field check; a request's is checked")
    func writtenJSON() throws {
        let text = Data(#"{"argv": ["x"], "retry": {"max_attempts": 2, "colour": 1}, "label": null}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(JobSpec.self, from: text) }
        let trusting = JSONDecoder()
        trusting.userInfo[.jobqWrittenJSON] = true
        let spec = try trusting.decode(JobSpec.self, from: text)
        #expect(spec.retry.maxAttempts == 2)
        #expect(spec.label == nil)
    }

    @Test("A duration's upper limit holds for the number as sent, not for its whole milliseconds (schemathesis sent max_backoff_seconds 604800.0000000002)")
    func durationLimitsAreExact() throws {
        for (field, limit) in [("backoff_seconds", "604800"), ("max_backoff_seconds", "604800")] {
            let at = try decode(JobSpec.self, #"{"argv": ["x"], "retry": {"max_attempts": 2, "\#(field)": \#(limit)}}"#)
            #expect(throws: Never.self) { try at.validate() }
            #expect(throws: DecodingError.self) {
                try decode(JobSpec.self, #"{"argv": ["x"], "retry": {"max_attempts": 2, "\#(field)": \#(limit).0000000002}}"#)
            }
        }
        let year = #"{"argv": ["x"], "timeout_seconds": 31536000}"#
        #expect(try decode(JobSpec.self, year).timeout == .seconds(31_536_000))
        let above = #"{"argv": ["x"], "timeout_seconds": 31536000.0002}"#
        #expect(throws: DecodingError.self) { try decode(JobSpec.self, above) }
        // Below the limit, a part of a millisecond is dropped as before.
        #expect(try decode(JobSpec.self, #"{"argv": ["x"], "timeout_seconds": 31535999.9999}"#).timeout
                == .milliseconds(31_535_999_999))
    }

    @Test("Validation names the field and the rule", arguments: [
        (JobSpec(command: .argv([])), "argv"),
        (JobSpec(command: .argv([""])), "argv"),
        (JobSpec(command: .argv(["a\0b"])), "argv"),
        (JobSpec(command: .shell("  ")), "shell"),
        // Unicode's White_Space, beyond ASCII (schemathesis sent U+0085, CI 2026-11-29)
        (JobSpec(command: .shell("\u{85}")), "shell"),
        (JobSpec(command: .shell("\u{A0}\u{1680}\u{2000}\u{200A}\u{2028}\u{2029}\u{202F}\u{205F}\u{3000}\t\n\u{B}\u{C}\r ")), "shell"),
        (JobSpec(command: .argv(["x"]), cwd: "relative"), "cwd"),
        (JobSpec(command: .argv(["x"]), env: ["A=B": "c"]), "env"),
        // "=" followed by a combining mark is one Character, not "=": the bytes still hold '='
        (JobSpec(command: .argv(["x"]), env: ["A=\u{301}": "c"]), "env"),
        (JobSpec(command: .argv(["x"]), cwd: "\u{301}/srv"), "cwd"),
        (JobSpec(command: .argv(["x"]), queue: ""), "queue"),
        (JobSpec(command: .argv(["x"]), queue: "-x"), "queue"),
        (JobSpec(command: .argv(["x"]), queue: "a/b"), "queue"),
        (JobSpec(command: .argv(["x"]), queue: String(repeating: "q", count: 65)), "queue"),
        (JobSpec(command: .argv(["x"]), priority: 2_000_000), "priority"),
        (JobSpec(command: .argv(["x"]), timeout: .zero), "timeout_seconds"),
        (JobSpec(command: .argv(["x"]), retry: RetryPolicy(maxAttempts: 0)), "retry.max_attempts"),
        (JobSpec(command: .argv(["x"]), retry: RetryPolicy(maxAttempts: 2, multiplier: 0.5)), "retry.multiplier"),
        (JobSpec(command: .argv(["x"]), retry: RetryPolicy(maxAttempts: 2, jitter: 2)), "retry.jitter"),
        (JobSpec(command: .argv(["x"]), retry: RetryPolicy(maxAttempts: 2, initialBackoff: .seconds(10), maxBackoff: .seconds(1))), "retry.max_backoff_seconds"),
        (JobSpec(command: .argv(["x"]), after: [0]), "after"),
        (JobSpec(command: .argv(["x"]), idempotencyKey: ""), "idempotency_key"),
        (JobSpec(command: .argv(["x"]), label: String(repeating: "l", count: 300)), "label"),
    ])
    func validation(spec: JobSpec, field: String) {
        #expect(throws: JobSpecError.self) { try spec.validate() }
        do {
            try spec.validate()
        } catch {
            #expect(error.field == field)
        }
    }

    @Test("A shell command is blank when every scalar in it is Unicode White_Space, as docs/openapi.yaml says")
    func blankShell() throws {
        // Not White_Space: U+FEFF (ECMAScript's \s has it), and a combining accent after a space
        // (one Character, which Swift's Character.isWhitespace calls whitespace).
        for line in ["\u{FEFF}", " \u{301}", "x", " \u{3000}y"] {
            #expect(throws: Never.self) { try JobSpec(command: .shell(line)).validate() }
        }
        let whiteSpace: [Unicode.Scalar] = [
            "\u{9}", "\u{A}", "\u{B}", "\u{C}", "\u{D}", " ", "\u{85}", "\u{A0}", "\u{1680}", "\u{2000}", "\u{2001}",
            "\u{2002}", "\u{2003}", "\u{2004}", "\u{2005}", "\u{2006}", "\u{2007}", "\u{2008}", "\u{2009}", "\u{200A}",
            "\u{2028}", "\u{2029}", "\u{202F}", "\u{205F}", "\u{3000}",
        ]
        for scalar in whiteSpace {
            #expect(JobLimits.isBlankShell(String(Character(scalar))), "U+\(String(scalar.value, radix: 16))")
        }
        // No other scalar is (White_Space has none above U+3000), and docs/openapi.yaml's
        // pattern for `shell` accepts a one-scalar command exactly when it is not blank.
        let document = try String(contentsOfFile: URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().appendingPathComponent("../../docs/openapi.yaml").path, encoding: .utf8)
        let start = try #require(document.range(of: #"shell: {type: string, pattern: ""#))
        let end = try #require(document.range(of: #"", maxLength"#, range: start.upperBound..<document.endIndex))
        let pattern = document[start.upperBound..<end.lowerBound].replacingOccurrences(of: #"\\"#, with: #"\"#)
        let regex = try NSRegularExpression(pattern: pattern)
        for value in UInt32(1)...0x3100 {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let line = String(Character(scalar))
            let matches = regex.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)) != nil
            #expect(JobLimits.isBlankShell(line) == whiteSpace.contains(scalar), "U+\(String(value, radix: 16))")
            #expect(matches == !whiteSpace.contains(scalar), "U+\(String(value, radix: 16)): the pattern")
        }
    }

    @Test("Paths and names are judged by their bytes, not by grapheme clusters (schemathesis found it)")
    func byteLevelRules() throws {
        // "/" then an emoji modifier is one Character, so String.hasPrefix("/") said no,
        // and the absolute path "/\u{1F3FB}d" was refused
        for cwd in ["/\u{1F3FB}d", "/\u{301}", "/srv"] {
            try JobSpec(command: .argv(["x"]), cwd: cwd).validate()
        }
        let decoded = try decode(JobSpec.self, #"{"argv": ["x"], "cwd": "/\ud83c\udffbd"}"#)
        #expect(decoded.cwd == "/\u{1F3FB}d")
        try decoded.validate()
        #expect("A=\u{301}b".splitAtFirstByte(UInt8(ascii: "="))! == ("A", "\u{301}b"))
        #expect("=x".splitAtFirstByte(UInt8(ascii: "="))! == ("", "x"))
        #expect("no equals".splitAtFirstByte(UInt8(ascii: "=")) == nil)
        #expect("/\u{1F3FB}".startsWithByte(UInt8(ascii: "/")))
        #expect(!"/\u{1F3FB}".hasPrefix("/"))  // why: the standard library's view
    }

    @Test("Queue names: safe in paths and URLs")
    func queueNames() {
        for good in ["default", "a", "build.arm64", "x_y-z", "Q9"] { #expect(JobSpec.isValidQueueName(good)) }
        for bad in ["", ".hidden", "-flag", "a b", "a/b", "é", "a\0"] { #expect(!JobSpec.isValidQueueName(bad)) }
    }

    @Test("Backoff grows by the multiplier, stops at the cap, and jitter only shortens it")
    func backoff() {
        let policy = RetryPolicy(maxAttempts: 10, initialBackoff: .seconds(1), maxBackoff: .seconds(10), multiplier: 2, jitter: 0.5)
        #expect(policy.backoff(afterFailedAttempts: 1, unitRandom: 0) == .seconds(1))
        #expect(policy.backoff(afterFailedAttempts: 2, unitRandom: 0) == .seconds(2))
        #expect(policy.backoff(afterFailedAttempts: 4, unitRandom: 0) == .seconds(8))
        #expect(policy.backoff(afterFailedAttempts: 5, unitRandom: 0) == .seconds(10))
        #expect(policy.backoff(afterFailedAttempts: 500, unitRandom: 0) == .seconds(10))
        #expect(policy.backoff(afterFailedAttempts: 2, unitRandom: 0.5) == .milliseconds(1500))
        #expect(policy.backoff(afterFailedAttempts: 2, unitRandom: 0.999_999) > .milliseconds(999))
        for _ in 0..<100 {
            let wait = policy.backoff(afterFailedAttempts: 3)
            #expect(wait >= .seconds(2) && wait <= .seconds(4))
        }
    }

    @Test("State transitions: exactly the documented ones are allowed")
    func transitions() {
        let allowed: Set<[JobState]> = [
            [.queued, .running], [.queued, .cancelled],
            [.blocked, .queued], [.blocked, .failed], [.blocked, .cancelled],
            [.running, .succeeded], [.running, .failed], [.running, .queued], [.running, .cancelled],
            [.failed, .queued], [.cancelled, .queued],
        ]
        for from in JobState.allCases {
            for to in JobState.allCases {
                #expect(from.canTransition(to: to) == allowed.contains([from, to]), "\(from) → \(to)")
            }
        }
        #expect(JobState.allCases.filter(\.isTerminal) == JobState.terminal)
        #expect(JobState.allCases.filter { !$0.isTerminal } == JobState.live)
    }

    @Test("Timestamps: RFC 3339 with milliseconds in UTC, offsets accepted")
    func timestamps() throws {
        let t = Timestamp(millisecondsSinceEpoch: 1_795_658_400_250)
        #expect(t.description == "2026-11-26T02:00:00.250Z")
        #expect(Timestamp(rfc3339: "2026-11-26T03:00:00.250+01:00") == t)
        #expect(Timestamp(rfc3339: "2026-11-26T02:00:00Z") == Timestamp(millisecondsSinceEpoch: 1_795_658_400_000))
        #expect(Timestamp(rfc3339: "yesterday") == nil)
        // Every RFC 3339 time (schemathesis generated these and the daemon refused them).
        #expect(Timestamp(rfc3339: "0272-02-04T03:03:25+22:02") == Timestamp(millisecondsSinceEpoch: -53_580_855_515_000))
        #expect(Timestamp(rfc3339: "1970-01-01t00:00:00.5z") == Timestamp(millisecondsSinceEpoch: 500))
        #expect(Timestamp(rfc3339: "2016-12-31T23:59:60Z") == Timestamp(millisecondsSinceEpoch: 1_483_228_799_999))
        #expect(Timestamp(rfc3339: "2024-02-29T12:00:00.123456-01:30") == Timestamp(millisecondsSinceEpoch: 1_709_213_400_123))
        for bad in ["2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-26T24:00:00Z", "2026-11-26T02:00:00",
                    "2026-11-26T02:00:00+24:00", "2026-11-26T02:00:00.Z", "2026-11-26 02:00:00Z", "2026-11-26T02:00:00Zx"] {
            #expect(Timestamp(rfc3339: bad) == nil, "\(bad)")
        }
        // Written exactly: every millisecond reads back as itself (a Date's formatter wrote
        // 2083-04-24T04:21:00.929Z as .928), before and after 1970, leap days included.
        #expect(Timestamp(millisecondsSinceEpoch: 3_575_766_060_929).description == "2083-04-24T04:21:00.929Z")
        #expect(Timestamp(millisecondsSinceEpoch: -1).description == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp(millisecondsSinceEpoch: -53_580_855_515_000).description == "0272-02-03T05:01:25.000Z")
        #expect(Timestamp(millisecondsSinceEpoch: 1_709_164_800_000).description == "2024-02-29T00:00:00.000Z")
        #expect(Timestamp(millisecondsSinceEpoch: 253_402_300_799_999).description == "9999-12-31T23:59:59.999Z")
        #expect(Timestamp(millisecondsSinceEpoch: 253_402_300_800_000).description == "10000-01-01T00:00:00.000Z")
        #expect(Timestamp(millisecondsSinceEpoch: -62_167_219_200_001).description == "-0001-12-31T23:59:59.999Z")
        var generator = SplitMix64(seed: 0x74696D65)
        for _ in 0..<20_000 {
            let moment = Timestamp(millisecondsSinceEpoch: Int64.random(in: -62_167_219_200_000...253_402_300_799_999, using: &generator))
            #expect(Timestamp(rfc3339: moment.description) == moment, "\(moment.millisecondsSinceEpoch)")
        }
        #expect(t.advanced(by: .seconds(2)).millisecondsSinceEpoch == 1_795_658_402_250)
        #expect(t.duration(to: t.advanced(by: .milliseconds(5))) == .milliseconds(5))
        let job = Job(id: 7, spec: JobSpec(argv: ["true"]), state: .queued, createdAt: t, updatedAt: t)
        let json = try String(decoding: encoder.encode(job), as: UTF8.self)
        #expect(json.contains(#""created_at":"2026-11-26T02:00:00.250Z""#))
        #expect(json.contains(#""id":7"#))
        #expect(try JSONDecoder().decode(Job.self, from: Data(json.utf8)) == job)
    }

    @Test("Job ids parse as people type them")
    func jobIDs() {
        #expect(JobID("42") == 42)
        #expect(JobID("0") == nil)
        #expect(JobID("-3") == nil)
        #expect(JobID("4x") == nil)
    }

    @Test("compactJSON reads back as the same spec, escapes included", arguments: [
        JobSpec(command: .argv(["true"])),
        JobSpec(command: .argv(["printf", "a \"quoted\" \\ back\\slash\n\t\r\u{01}\u{1f} é 日本 🎉", ""]),
                cwd: "/srv/x y", env: ["Z": "last", "A": "first", "EMPTY": "", "Q\"": "\\"], queue: "q.1-x_y", priority: -7,
                runAt: Timestamp(millisecondsSinceEpoch: 1_795_658_400_250), timeout: .milliseconds(1),
                retry: RetryPolicy(maxAttempts: 4, initialBackoff: .milliseconds(1500), maxBackoff: .seconds(90),
                                   multiplier: 1.25, jitter: 0.125),
                after: [1, 99], idempotencyKey: "key/with/slashes", label: "lbl", submitterUID: 4_294_967_295),
        JobSpec(command: .shell("ls | wc -l > /tmp/out"), timeout: .seconds(3600)),
    ])
    func compactJSON(spec: JobSpec) throws {
        let decoded = try JSONDecoder().decode(JobSpec.self, from: Data(spec.compactJSON.utf8))
        #expect(decoded == spec)
        // The same document as Foundation's encoder writes, but for the default retry policy.
        let ours = try #require(try JSONSerialization.jsonObject(with: Data(spec.compactJSON.utf8)) as? NSDictionary)
        let foundation = try #require(try JSONSerialization.jsonObject(with: encoder.encode(spec)) as? [String: Any])
        #expect(ours == (spec.retry == .none ? foundation.filter { $0.key != "retry" } : foundation) as NSDictionary)
    }
}
