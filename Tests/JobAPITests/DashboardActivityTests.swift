import Foundation
@testable import JobDashboard
import Testing

/// The overview's charts: samples read from the metrics' text, the hour they keep, and the
/// series and percentiles drawn from them.
@Suite struct DashboardActivityTests {
    static let metrics = """
        # HELP jobq_jobs Jobs in the store, by queue and state.
        # TYPE jobq_jobs gauge
        jobq_jobs{queue="a",state="queued"} 3
        jobq_jobs{queue="b",state="queued"} 4
        jobq_jobs{queue="a",state="running"} 2
        jobq_jobs_finished_total{queue="a",state="succeeded"} 10
        jobq_jobs_finished_total{queue="b",state="failed"} 5
        jobq_job_duration_seconds_bucket{queue="a",le="0.1"} 4
        jobq_job_duration_seconds_bucket{queue="b",le="0.1"} 1
        jobq_job_duration_seconds_bucket{queue="a",le="1"} 8
        jobq_job_duration_seconds_bucket{queue="a",le="+Inf"} 10
        jobq_job_duration_seconds_sum{queue="a"} 4.5
        jobq_workers{queue="a"} 2
        """

    @Test func aSampleSumsTheFamiliesItNeedsOverQueues() {
        let sample = ActivitySample(prometheus: Self.metrics, at: .seconds(7))
        #expect(sample == ActivitySample(at: .seconds(7), queued: 7, running: 2, finished: ["succeeded": 10, "failed": 5],
                                         durations: [0.1: 5, 1: 8, .infinity: 10]))
    }

    @Test func theHistoryKeepsAnHourAndOneSampleBefore() {
        var history = ActivityHistory(window: .seconds(60))
        for second in stride(from: 0, through: 100, by: 10) { history.record(ActivitySample(at: .seconds(second), queued: second)) }
        #expect(history.samples.map(\.queued) == [30, 40, 50, 60, 70, 80, 90, 100])
        #expect(history.queued.map(\.age) == [70, 60, 50, 40, 30, 20, 10, 0])
    }

    @Test func ratesArePerMinuteAndIgnoreARestart() {
        var history = ActivityHistory()
        let finished = [0, 10, 30, 5]
        for (index, count) in finished.enumerated() {
            history.record(ActivitySample(at: .seconds(index * 30), finished: ["succeeded": count, "failed": count / 5]))
        }
        #expect(history.finishedPerMinute.map(\.value) == [24, 48, 0])
        #expect(history.failedPerMinute.map(\.value) == [4, 8, 0])
        #expect(history.finishedPerMinute.map(\.age) == [60, 30, 0])
    }

    @Test func percentilesFollowPrometheusHistogramQuantile() {
        let older: [Double: Int] = [0.1: 10, 1: 10, .infinity: 10]
        let newer: [Double: Int] = [0.1: 60, 1: 100, .infinity: 110]
        // 100 jobs between them: 50 at most 0.1 s, 40 more at most 1 s, 10 longer.
        #expect(ActivityHistory.quantile(0.5, from: older, to: newer) == 0.1)
        #expect(abs((ActivityHistory.quantile(0.7, from: older, to: newer) ?? 0) - 0.55) < 1e-9)
        #expect(ActivityHistory.quantile(0.99, from: older, to: newer) == 1, "past the last finite bound")
        #expect(ActivityHistory.quantile(0.5, from: newer, to: newer) == nil, "no job finished")

        var history = ActivityHistory(percentileWindow: .seconds(60))
        history.record(ActivitySample(at: .seconds(0), durations: older))
        history.record(ActivitySample(at: .seconds(30), durations: newer))
        history.record(ActivitySample(at: .seconds(100), durations: newer))
        #expect(history.durations(quantile: 0.5).map(\.value) == [0.1], "the last point's minute saw no job finish")
    }

    @Test func chartsScaleToANiceCeilingAndSayTheirValues() {
        #expect([0, 0.3, 1, 7, 12, 450, 1000].map(ActivityCharts.niceCeiling) == [0, 0.5, 1, 10, 20, 500, 1000])
        var history = ActivityHistory()
        #expect(ActivityCharts.render(history).description.contains("first samples"))
        history.record(ActivitySample(at: .seconds(0), queued: 4))
        history.record(ActivitySample(at: .seconds(5), queued: 9, running: 2))
        let html = ActivityCharts.render(history).description
        #expect(html.contains("aria-label=\"Jobs waiting and running, the last 1 min: queued 9, running 2 now, at most 10\""))
        #expect(html.contains("<polyline class=\"line-queued\" points=\"550.0,72.0 600.0,12.0\""), "a young daemon's minute")
        #expect(html.contains("<span>−1 min</span>") && html.contains("<h2>The last 1 min</h2>"))
        history.record(ActivitySample(at: .seconds(7300), queued: 1))
        let hour = ActivityCharts.render(history).description
        #expect(hour.contains("<span>−60 min</span>") && hour.contains("<h2>The last hour</h2>"), "at most the hour")
    }
}
