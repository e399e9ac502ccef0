/// What the overview's charts are drawn from, read from the API's `GET /metrics` every few
/// seconds: jobs waiting and running, jobs finished by state since jobqd started, and the
/// cumulative histogram of their run times.
struct ActivitySample: Hashable, Sendable {
    /// When it was taken, on a monotonic clock.
    var at: Duration
    var queued = 0
    var running = 0
    /// Jobs finished since jobqd started, by terminal state (`succeeded`, `failed`, `cancelled`).
    var finished: [String: Int] = [:]
    /// Run times of finished jobs: for each upper bound in seconds (the last is +infinity), how
    /// many took at most that long, over every queue.
    var durations: [Double: Int] = [:]

    /// Reads the families it needs from Prometheus text (format 0.0.4), summed over queues;
    /// every other line is ignored.
    init(prometheus text: String, at: Duration) {
        self.at = at
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            let name = series.prefix { $0 != "{" }
            let labels = Self.labels(series.dropFirst(name.count))
            switch name {
            case "jobq_jobs":
                if labels["state"] == "queued" { queued += Int(value) }
                if labels["state"] == "running" { running += Int(value) }
            case "jobq_jobs_finished_total":
                if let state = labels["state"] { finished[state, default: 0] += Int(value) }
            case "jobq_job_duration_seconds_bucket":
                guard let bound = labels["le"].flatMap({ $0 == "+Inf" ? Double.infinity : Double($0) }) else { continue }
                durations[bound, default: 0] += Int(value)
            default:
                continue
            }
        }
    }

    init(at: Duration, queued: Int = 0, running: Int = 0, finished: [String: Int] = [:], durations: [Double: Int] = [:]) {
        self.at = at
        self.queued = queued
        self.running = running
        self.finished = finished
        self.durations = durations
    }

    /// `{queue="a",state="failed"}` as a dictionary (label values hold no quotes: queue names
    /// and states cannot).
    private static func labels(_ text: Substring) -> [String: String] {
        guard text.hasPrefix("{"), text.hasSuffix("}") else { return [:] }
        var labels: [String: String] = [:]
        for pair in text.dropFirst().dropLast().split(separator: ",") {
            guard let equals = pair.firstIndex(of: "=") else { continue }
            labels[String(pair[..<equals])] = String(pair[pair.index(after: equals)...].dropFirst().dropLast())
        }
        return labels
    }
}
