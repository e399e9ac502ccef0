import Foundation
import JobModel
import Testing

@Suite("Resource limits: parsing, JSON, queue defaults and ceilings")
struct ResourceLimitsTests {
    static let examples: [(String, Int64)] = [
        ("2G", 2_147_483_648), ("512M", 536_870_912), ("64k", 65_536), ("1GiB", 1_073_741_824), ("10MB", 10_485_760),
        ("1073741824", 1_073_741_824), ("1T", 1_099_511_627_776),
    ]

    @Test("Sizes", arguments: examples)
    func sizes(_ text: String, _ bytes: Int64) {
        #expect(ResourceLimits.parseBytes(text) == bytes)
    }

    @Test("Not sizes", arguments: ["", "0", "-1", "G", "2X", "1.5G", "2 G", "99999999999T", "١٢"])
    func notSizes(_ text: String) {
        #expect(ResourceLimits.parseBytes(text) == nil)
    }

    @Test("CPU times in seconds")
    func cpuTimes() {
        #expect(ResourceLimits.parseSeconds("600") == 600)
        #expect(ResourceLimits.parseSeconds("90s") == 90)
        #expect(ResourceLimits.parseSeconds("10m") == 600)
        #expect(ResourceLimits.parseSeconds("2h") == 7200)
        for bad in ["", "0", "0s", "1.5m", "-3", "1d", "9999999h"] { #expect(ResourceLimits.parseSeconds(bad) == nil, "\(bad)") }
    }

    @Test("A spec's limits: in its JSON, refused when not positive or on a payload job")
    func specLimits() throws {
        var spec = JobSpec(command: .argv(["make"]))
        spec.limits = ResourceLimits(memoryBytes: 1 << 30, cpuSeconds: 600, openFiles: 64, processes: 10, fileSizeBytes: 1 << 20)
        let decoded = try JSONDecoder().decode(JobSpec.self, from: Data(spec.compactJSON.utf8))
        #expect(decoded == spec)
        #expect(Array(spec.compactJSON.utf8).withUnsafeBufferPointer(BodyReader.spec) == spec)
        #expect(spec.compactJSON.contains(#""limits":{"cpu_seconds":600,"file_size_bytes":1048576,"memory_bytes":1073741824,"open_files":64,"processes":10}"#))
        spec.limits.openFiles = 0
        #expect(throws: JobSpecError.invalidField("limits.open_files", "must be from 1 to 1073741824")) { try spec.validate() }
        spec.limits.openFiles = 64
        spec.limits.cpuSeconds = 31_536_001
        #expect(throws: JobSpecError.invalidField("limits.cpu_seconds", "must be from 1 to 31536000")) { try spec.validate() }
        var payload = JobSpec(command: .payload(.integer(1)))
        payload.limits.cpuSeconds = 1
        #expect(throws: JobSpecError.invalidField("limits", "apply to commands only, not to a payload job")) { try payload.validate() }
        #expect(throws: (any Error).self) { try JSONDecoder().decode(JobSpec.self, from: Data(#"{"argv":["x"],"limits":{"memory":1}}"#.utf8)) }
    }

    @Test("A queue's defaults fill what a job does not set, its ceilings cap it, and a job above a ceiling is refused")
    func queueLimits() throws {
        let queue = QueueLimits(defaults: ResourceLimits(memoryBytes: 2 << 30, cpuSeconds: 7200),
                                ceilings: ResourceLimits(memoryBytes: 8 << 30, cpuSeconds: 3600, openFiles: 1024))
        // The default CPU time is above its ceiling: the ceiling wins.
        #expect(try queue.apply(to: ResourceLimits(), queue: "builds")
            == ResourceLimits(memoryBytes: 2 << 30, cpuSeconds: 3600, openFiles: 1024))
        #expect(try queue.apply(to: ResourceLimits(memoryBytes: 4 << 30, processes: 50), queue: "builds")
            == ResourceLimits(memoryBytes: 4 << 30, cpuSeconds: 3600, openFiles: 1024, processes: 50))
        #expect(throws: JobSpecError.invalidField("limits.memory_bytes", "is 17179869184, above queue builds's ceiling of 8589934592")) {
            try queue.apply(to: ResourceLimits(memoryBytes: 16 << 30), queue: "builds")
        }
        // A queue's own settings over those of every queue.
        let every = QueueLimits(defaults: ResourceLimits(openFiles: 256), ceilings: ResourceLimits(openFiles: 4096, processes: 100))
        let merged = QueueLimits(ceilings: ResourceLimits(openFiles: 8192)).filled(from: every)
        #expect(merged == QueueLimits(defaults: ResourceLimits(openFiles: 256), ceilings: ResourceLimits(openFiles: 8192, processes: 100)))
    }
}
