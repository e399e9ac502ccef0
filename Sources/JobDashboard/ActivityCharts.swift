import Foundation

/// The overview's charts of the last hour (or of as much of it as jobqd has seen), drawn by jobqd as inline SVG (no script, no image
/// requests): jobs queued and running, jobs finished and failed per minute, and run-time
/// percentiles. Each has a text alternative with its latest values.
enum ActivityCharts {
    /// The drawing's size in SVG units; the page stretches it to its column.
    static let (width, height) = (600.0, 120.0)

    static func render(_ history: ActivityHistory) -> HTML {
        guard history.samples.count >= 2 else {
            return "<h2>The last hour</h2>\n<p class=\"muted\">The charts start with jobqd's first samples, a few seconds from now.</p>"
        }
        // The hour, or as much of it as jobqd has seen (at least a minute), so that a young
        // daemon's charts are not a sliver at the right edge.
        let seen = (history.samples.last?.at).flatMap { last in history.samples.first.map { ActivityHistory.seconds(last - $0.at) } } ?? 0
        let span = min(ActivityHistory.seconds(history.window), max(60, (seen / 60).rounded(.up) * 60))
        let p50 = history.durations(quantile: 0.5), p90 = history.durations(quantile: 0.9), p99 = history.durations(quantile: 0.99)
        let charts: [HTML] = [
            chart("Jobs waiting and running", span: span, unit: "jobs", series: [("queued", "queued", history.queued), ("running", "running", history.running)]),
            chart("Jobs finished per minute", span: span, unit: "/min", series: [("finished", "finished", history.finishedPerMinute)]),
            chart("Jobs failed per minute", span: span, unit: "/min", series: [("failed", "failed", history.failedPerMinute)]),
            chart("Run time (trailing minute)", span: span, unit: "s", series: [("p50", "p50", p50), ("p90", "p90", p90), ("p99", "p99", p99)]),
        ]
        let heading = span >= ActivityHistory.seconds(history.window) ? "The last hour" : "The last \(Int(span / 60)) min"
        return """
            <h2>\(heading)</h2>
            <div class="charts">\(charts)</div>
            """
    }

    /// One chart: its title with the latest value of each series, the lines, and the scale.
    static func chart(_ title: String, span: Double, unit: String, series: [(name: String, style: String, points: [ActivityHistory.Point])]) -> HTML {
        let top = niceCeiling(series.flatMap { $0.points.map(\.value) }.max() ?? 0)
        let lines = series.compactMap { item -> HTML? in
            guard !item.points.isEmpty else { return nil }
            let coordinates = item.points.map { point in
                let x = width * max(0, 1 - point.age / span)
                let y = height - (top > 0 ? height * point.value / top : 0)
                return String(format: "%.1f,%.1f", x, y)
            }.joined(separator: " ")
            return "<polyline class=\"line-\(item.style)\" points=\"\(coordinates)\" vector-effect=\"non-scaling-stroke\"/>"
        }
        let latest = series.map { item -> String in
            let value = item.points.last.map { format($0.value) } ?? "–"
            return "\(item.name) \(value)"
        }
        let legend = series.map { item -> HTML in
            "<span class=\"key key-\(item.style)\">\(item.name) <strong>\(item.points.last.map { format($0.value) } ?? "–")</strong></span>"
        }
        return """
            <figure class="chart">
            <figcaption>\(title) <span class="muted">(\(unit))</span></figcaption>
            <div class="legend">\(legend)</div>
            <svg viewBox="0 0 \(Int(width)) \(Int(height))" preserveAspectRatio="none" role="img" \
            aria-label="\(title), the last \(Int(span / 60)) min: \(latest.joined(separator: ", ")) now, at most \(format(top))">\
            <line class="grid" x1="0" y1="\(Int(height / 2))" x2="\(Int(width))" y2="\(Int(height / 2))" vector-effect="non-scaling-stroke"/>\
            \(lines)</svg>
            <div class="scale"><span>−\(Int(span / 60)) min</span><span>top \(format(top)) \(unit)</span><span>now</span></div>
            </figure>
            """
    }

    /// The smallest of 1, 2 or 5 times a power of ten at or above `value` (0 stays 0).
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0 else { return 0 }
        let power = pow(10, floor(log10(value)))
        for step in [1.0, 2.0, 5.0, 10.0] where step * power >= value { return step * power }
        return 10 * power
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e9 { return String(Int(value)) }
        if value < 0.01 { return String(format: "%.3f", value) }
        if value < 10 { return String(format: "%.2f", value) }
        return String(format: "%.0f", value)
    }
}
