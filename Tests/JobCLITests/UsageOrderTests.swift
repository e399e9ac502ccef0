import JobModel
@testable import JobCLI
import Testing

@Suite("jobq list --sort, and sizes")
struct UsageOrderTests {
    func job(_ id: Int64, cpuMilliseconds: Int64?, resident: Int64 = 0, took: Int64? = nil) -> Job {
        let start = Timestamp(millisecondsSinceEpoch: 1_000_000)
        var job = Job(id: JobID(id), spec: JobSpec(command: .argv(["true"])), state: .succeeded, createdAt: start, updatedAt: start,
                      startedAt: took.map { _ in start }, finishedAt: took.map { start.advanced(by: .milliseconds($0)) })
        job.usage = cpuMilliseconds.map { RunUsage(userCPU: .milliseconds($0), systemCPU: .zero, maxResidentBytes: resident) }
        return job
    }

    @Test("Jobs are ordered by their last run's CPU, memory or run time, the most last; jobs without one first, in their order")
    func order() {
        let jobs = [job(1, cpuMilliseconds: 300, resident: 10, took: 5), job(2, cpuMilliseconds: nil),
                    job(3, cpuMilliseconds: 100, resident: 30, took: 50), job(4, cpuMilliseconds: 200, resident: 20, took: 500),
                    job(5, cpuMilliseconds: nil)]
        #expect(UsageOrder.cpu.sorted(jobs).map(\.id) == [2, 5, 3, 4, 1])
        #expect(UsageOrder.memory.sorted(jobs).map(\.id) == [2, 5, 1, 4, 3])
        #expect(UsageOrder.took.sorted(jobs).map(\.id) == [2, 5, 1, 3, 4])
    }

    @Test("Sizes in binary units, three figures", arguments: [
        (0, "0 B"), (1023, "1023 B"), (1024, "1.00 KiB"), (40_161_280, "38.3 MiB"), (1 << 30, "1.00 GiB"), (300 << 30, "300 GiB"),
    ] as [(Int64, String)])
    func sizes(_ bytes: Int64, _ text: String) {
        #expect(DisplayText.bytes(bytes) == text)
    }
}
