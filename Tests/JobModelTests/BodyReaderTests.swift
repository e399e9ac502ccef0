import Foundation
@testable import JobModel
import JobQueueTesting
import Testing

@Suite("The fast body reader agrees with JSONDecoder")
struct FastJSONTests {
    /// The slow path: what the API decodes when the fast one declines.
    struct Body: Decodable {
        var jobs: [JobSpec]?
    }

    static func slow(_ text: String) -> [JobSpec]? {
        let data = Data(text.utf8)
        if let batch = try? JSONDecoder().decode([String: [JobSpec]].self, from: data), let jobs = batch["jobs"], batch.count == 1 {
            return jobs
        }
        return (try? JSONDecoder().decode(JobSpec.self, from: data)).map { [$0] }
    }

    static func fast(_ text: String) -> [JobSpec]? {
        BodyReader.specs(Array(text.utf8))
    }

    @Test("Bodies the fast path takes decode to the same specs", arguments: [
        #"{"argv":["true"]}"#,
        #"  {"shell" : "echo hi | wc -c" , "queue":"q.1-x_2"}  "#,
        #"{"argv":["a\"b","c\\d","e\/f","\n\t\r\b\f","\u00e9\u4e2d","é中🙂"],"cwd":"/srv","env":{"A":"1","B":""}}"#,
        #"{"argv":["x"],"priority":-42,"run_at":"2026-11-25T14:26:29.123Z","timeout_seconds":1.5,"after":[1,22,333]}"#,
        #"{"argv":["x"],"timeout_seconds":600,"idempotency_key":"k","label":"l","submitter_uid":1000}"#,
        #"{"argv":["x"],"after":[],"env":{}}"#,
        #"{"argv":[]}"#,
        #"{"jobs":[{"argv":["a"]},{"shell":"b","priority":3}]}"#,
        #"{"jobs":[]}"#,
        #"{"argv":["x"],"timeout_seconds":0.0005}"#,
        #"{"argv":["x"],"timeout_seconds":8338.755,"priority":0}"#,
        #"{"argv":["x"],"timeout_seconds":640.0179999}"#,
        #"{"payload":1,"queue":"mail"}"#,
        #"{"argv":["make"],"limits":{"memory_bytes":1073741824,"cpu_seconds":60,"open_files":64,"processes":9,"file_size_bytes":1}}"#,
        #"{"argv":["make"],"limits":{}}"#,
        #"{"queue":"mail","payload":{"to":"ann","n":-3,"tags":["a",true,false,null,{}],"deep":[[[]]]},"priority":2}"#,
        #"{"jobs":[{"payload":"x"},{"payload":[1,2]},{"argv":["y"]}]}"#,
    ])
    func agrees(_ text: String) throws {
        let fast = try #require(Self.fast(text), "the fast path declined")
        #expect(fast == Self.slow(text))
    }

    @Test("Bodies the fast path declines, for JSONDecoder to decide", arguments: [
        #"{"argv":["x"],"retry":{"max_attempts":3}}"#,
        #"{"argv":["x"],"colour":"red"}"#,
        #"{"argv":["x"],"cwd":null,"label":null}"#,
        #"{"argv":["x"],"argv":["y"]}"#,
        #"{"argv":["x"],"shell":"y"}"#,
        #"{"argv":["x"],"payload":1}"#,
        #"{"payload":null}"#,
        #"{"payload":1.5}"#,
        #"{"payload":1e3}"#,
        #"{"payload":{"a":1,"a":2}}"#,
        #"{"argv":["x"],"limits":{"cpu_seconds":1.5}}"#,
        #"{"argv":["x"],"limits":{"cpu":1}}"#,
        #"{"argv":["x"],"limits":{"cpu_seconds":1,"cpu_seconds":2}}"#,
        #"{"payload":tru}"#,
        #"{"payload":99999999999999999999}"#,
        #"{"payload":[1,]}"#,
        #"{"queue":"q"}"#,
        #"{"argv":["\ud83d\ude42"]}"#,
        #"{"argv":["x"],"priority":1.0}"#,
        #"{"argv":["x"],"priority":01}"#,
        #"{"argv":["x"],"timeout_seconds":-1}"#,
        #"{"argv":["x"],"timeout_seconds":.5}"#,
        #"{"argv":["x"],"timeout_seconds":1e3}"#,
        #"{"argv":["x"],"timeout_seconds":01.5}"#,
        #"{"argv":["x"],"run_at":"tomorrow"}"#,
        #"{"argv":["x"],"submitter_uid":-1}"#,
        #"{"argv":["x"]} trailing"#,
        #"{"argv":["x"]"#,
        "{\"argv\":[\"a\u{01}b\"]}",
        #"{"jobs":[{"argv":["a"]}],"x":1}"#,
        #"["argv"]"#,
        "",
    ])
    func declines(_ text: String) {
        #expect(Self.fast(text) == nil)
    }

    @Test("A string that is not UTF-8 is declined, in a key or a value")
    func invalidUTF8() {
        #expect(BodyReader.specs(Array(#"{"argv":[""#.utf8) + [0xC3, 0x28] + Array(#""]}"#.utf8)) == nil)
        #expect(BodyReader.specs(Array(#"{"argv":["x"],""#.utf8) + [0xFF] + Array(#"":1}"#.utf8)) == nil)
        #expect(BodyReader.specs(Array(#"{"argv":[""#.utf8) + [0xC3, 0xA9] + Array(#""]}"#.utf8)) == [JobSpec(command: .argv(["é"]))])
    }

    @Test("Lease requests the fast path takes decode to the same request", arguments: [
        "{}",
        #"{"max":100,"wait_seconds":0,"lease_seconds":300,"consumer":"bench 12"}"#,
        #"{"max":1,"wait_seconds":2.5,"complete":[{"token":"1.1"},{"token":"22.3","result":{"ok":[1,"two"]}}]}"#,
        #"{"complete":[],"lease_seconds":0.25}"#,
        #" { "consumer" : "é中" } "#,
    ])
    func leaseRequestAgrees(_ text: String) throws {
        let fast = try #require(BodyReader.leaseRequest(Array(text.utf8)), "the fast path declined")
        #expect(fast == (try JSONDecoder().decode(LeaseRequest.self, from: Data(text.utf8))))
    }

    @Test("Lease requests the fast path declines, for JSONDecoder to decide", arguments: [
        #"{"max":1.0}"#,
        #"{"max":1,"max":2}"#,
        #"{"consumer":null}"#,
        #"{"colour":"red"}"#,
        #"{"lease_seconds":1e2}"#,
        #"{"lease_seconds":"60"}"#,
        #"{"complete":[{"token":"1"}]}"#,
        #"{"complete":[{"token":"1.0"}]}"#,
        #"{"complete":[{"result":1}]}"#,
        #"{"complete":[{"token":"1.1","extra":1}]}"#,
        #"{"complete":[{"token":"1.1","token":"1.1"}]}"#,
        #"{"complete":[{"token":"1.1","result":1,"result":2}]}"#,
        #"{"complete":[{"token":"1.1","result":0.5}]}"#,
        #"{"max":1} x"#,
    ])
    func leaseRequestDeclines(_ text: String) {
        #expect(BodyReader.leaseRequest(Array(text.utf8)) == nil)
    }

    @Test("A timeout's upper limit holds for the number as sent: at the limit it is read, above it declined for JSONDecoder to refuse")
    func timeoutLimit() {
        #expect(Self.fast(#"{"argv": ["x"], "timeout_seconds": 31536000}"#)?.first?.timeout == .seconds(31_536_000))
        #expect(Self.fast(#"{"argv": ["x"], "timeout_seconds": 31536000.0002}"#) == nil)
    }

    @Test("Random specs written by compactJSON and by JSONEncoder decode alike on both paths, and JSONDecoder reads compactJSON back to the same spec")
    func randomSpecs() throws {
        var generator = SplitMix64(seed: 0x6A6F6271)
        let alphabet = Array("abcXYZ019 ;$()'\"\\/\n\t\u{7F}é中🙂-_.")
        func text() -> String {
            String((0..<Int.random(in: 0...12, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
        }
        for _ in 0..<300 {
            func value(_ depth: Int) -> JSONValue {
                switch Int.random(in: depth > 2 ? 0...3 : 0...5, using: &generator) {
                case 0: return .string(text())
                case 1: return .integer(Int64.random(in: Int64.min...Int64.max, using: &generator))
                case 2: return .bool(Bool.random(using: &generator))
                case 3: return .null
                case 4: return .array((0..<Int.random(in: 0...3, using: &generator)).map { _ in value(depth + 1) })
                default: return .object(Dictionary((0..<Int.random(in: 0...3, using: &generator)).map { n in ("k\(n)" + text(), value(depth + 1)) },
                                                   uniquingKeysWith: { first, _ in first }))
                }
            }
            var spec: JobSpec
            switch Int.random(in: 0...2, using: &generator) {
            case 0: spec = JobSpec(command: .argv((0..<Int.random(in: 1...4, using: &generator)).map { _ in text() }))
            case 1: spec = JobSpec(command: .shell(text()))
            default:
                let payload = value(0)
                spec = JobSpec(command: .payload(payload == .null ? .integer(0) : payload))
            }
            let isCommand = !spec.command.isPayload
            if isCommand, Bool.random(using: &generator) { spec.cwd = "/" + text() }
            if isCommand, Bool.random(using: &generator) { spec.env = [text(): text(), "K" + text(): text()] }
            if Bool.random(using: &generator) { spec.queue = "q" + String(Int.random(in: 0...99, using: &generator)) }
            spec.priority = Int.random(in: -1000...1000, using: &generator)
            if isCommand, Bool.random(using: &generator) { spec.timeout = .milliseconds(Int64.random(in: 1...10_000_000, using: &generator)) }
            if Bool.random(using: &generator) { spec.runAt = Timestamp(millisecondsSinceEpoch: Int64.random(in: 0...4_000_000_000_000, using: &generator)) }
            if Bool.random(using: &generator) { spec.after = [JobID(Int64.random(in: 1...1_000_000, using: &generator))] }
            if Bool.random(using: &generator) { spec.label = text() }
            if Bool.random(using: &generator) { spec.idempotencyKey = text() }
            // What the store reads back: the spec it wrote, without a retry policy.
            #expect(try JSONDecoder().decode(JobSpec.self, from: Data(spec.compactJSON.utf8)) == spec, "\(spec.compactJSON)")
            #expect(Array(spec.compactJSON.utf8).withUnsafeBufferPointer(BodyReader.spec) == spec, "the store's fast path: \(spec.compactJSON)")
            for body in [spec.compactJSON, String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)] {
                let slow = try #require(Self.slow(body), "JSONDecoder refused \(body)")
                if let fast = Self.fast(body) {
                    #expect(fast == slow, "\(body)")
                } else {
                    // JSONEncoder always writes `retry`, which the fast path leaves to JSONDecoder.
                    #expect(body.contains("\"retry\""), "declined \(body)")
                }
            }
        }
    }
}
