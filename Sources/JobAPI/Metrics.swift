import Foundation
import Hummingbird
import JobEngine
import JobModel
import JobStoring

/// `GET /metrics`: Prometheus text format 0.0.4.
enum Metrics {
    /// The text `GET /metrics` answers, for the dashboard's charts in the same process.
    static func text(_ environment: JobAPI.Environment) async throws -> String {
        try await render(environment)
    }

    static func response(_ environment: JobAPI.Environment) async throws -> Response {
        let text = try await render(environment)
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func render(_ environment: JobAPI.Environment) async throws -> String {
        let queues = try await QueueInfo.all(environment)
        let counters = environment.engine.metrics()
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        family("jobq_jobs", "gauge", "Jobs in the store, by queue and state.")
        for queue in queues {
            for state in JobState.allCases {
                out += "jobq_jobs{queue=\"\(queue.name)\",state=\"\(state.rawValue)\"} \(queue.states[state.rawValue] ?? 0)\n"
            }
        }
        family("jobq_workers", "gauge", "Workers of each queue (its concurrency).")
        for queue in queues { out += "jobq_workers{queue=\"\(queue.name)\"} \(queue.concurrency)\n" }
        family("jobq_workers_busy", "gauge", "Jobs whose command is running, by queue.")
        for queue in queues { out += "jobq_workers_busy{queue=\"\(queue.name)\"} \(queue.running)\n" }
        family("jobq_queue_paused", "gauge", "1 when the queue is paused.")
        for queue in queues { out += "jobq_queue_paused{queue=\"\(queue.name)\"} \(queue.paused ? 1 : 0)\n" }
        family("jobq_jobs_submitted_total", "counter", "Jobs stored by a submit since the daemon started, by queue.")
        for (queue, count) in counters.submitted.sorted(by: { $0.key < $1.key }) {
            out += "jobq_jobs_submitted_total{queue=\"\(queue)\"} \(count)\n"
        }
        family("jobq_jobs_finished_total", "counter", "Jobs that reached a terminal state since the daemon started, by queue and state.")
        for (queue, states) in counters.finished.sorted(by: { $0.key < $1.key }) {
            for state in JobState.allCases where state.isTerminal {
                out += "jobq_jobs_finished_total{queue=\"\(queue)\",state=\"\(state.rawValue)\"} \(states[state] ?? 0)\n"
            }
        }
        func histograms(_ name: String, _ help: String, _ byQueue: [String: Histogram]) {
            family(name, "histogram", help)
            for (queue, histogram) in byQueue.sorted(by: { $0.key < $1.key }) {
                var cumulative = 0
                for (index, bound) in histogram.bounds.enumerated() {
                    cumulative += histogram.buckets[index]
                    out += "\(name)_bucket{queue=\"\(queue)\",le=\"\(bound)\"} \(cumulative)\n"
                }
                out += "\(name)_bucket{queue=\"\(queue)\",le=\"+Inf\"} \(histogram.count)\n"
                out += "\(name)_sum{queue=\"\(queue)\"} \(histogram.sum)\n"
                out += "\(name)_count{queue=\"\(queue)\"} \(histogram.count)\n"
            }
        }
        histograms("jobq_job_duration_seconds", "Run time of finished jobs' last attempt, by queue.", counters.durations)
        histograms("jobq_job_cpu_seconds", "CPU time (user and system) of finished jobs' last attempt, by queue.", counters.cpuTimes)
        histograms("jobq_job_max_rss_bytes", "Largest resident set of finished jobs' last attempt, by queue.", counters.residentSizes)
        let store = environment.store.statistics
        family("jobq_store_transactions_total", "counter", "Write transactions committed (or attempted) by the store since the daemon started.")
        out += "jobq_store_transactions_total \(store.transactions)\n"
        family("jobq_store_writes_total", "counter", "Writes (a submit, a claim, a finish...) run in those transactions; writes / transactions is the mean group-commit size.")
        out += "jobq_store_writes_total \(store.operations)\n"
        family("jobq_store_largest_group", "gauge", "The most writes committed in one transaction since the daemon started.")
        out += "jobq_store_largest_group \(store.largestGroup)\n"
        family("jobq_store_unsynced_transactions_total", "counter", "Those transactions that held only claims, committed without an fsync of their own (the next synced commit covers them).")
        out += "jobq_store_unsynced_transactions_total \(store.unsyncedTransactions)\n"
        family("jobq_api_long_requests", "gauge", "Requests held open now: wait, join, log follow, events.")
        out += "jobq_api_long_requests \(environment.longRequests.current)\n"
        family("jobq_uptime_seconds", "gauge", "Seconds since the daemon started.")
        out += "jobq_uptime_seconds \(Int(Date().timeIntervalSince(environment.startedAt)))\n"
        return out
    }
}
