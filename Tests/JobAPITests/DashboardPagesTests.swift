import Foundation
@testable import JobDashboard
import JobModel
import Testing

/// The pages as jobqd renders them from the API's answers: what each shows, escaped.
@Suite struct DashboardPagesTests {
    @Test func theOverviewShowsTheNodesOfASharedStore() {
        let now = Timestamp.now()
        let status = StatusReport(
            version: "9.9", uptimeSeconds: 3700, states: ["queued": 3, "running": 2], workers: .init(busy: 2, total: 6, maxRunning: 4),
            queues: [QueueInfo(name: "builds", concurrency: 3, paused: true, running: 2, states: ["queued": 3, "failed": 1])],
            nodes: [
                NodeInfo(name: "alpha", startedAt: now, heartbeatAt: now, lapsed: false, serves: nil, running: 2, isSelf: true),
                NodeInfo(name: "beta<1>", startedAt: now, heartbeatAt: now, lapsed: true, serves: ["gpu", "render"], running: 0, isSelf: false),
            ])
        let html = OverviewPage.render(status).description
        #expect(html.contains("<dd class=\"state-queued\" data-state=\"queued\">3</dd>"))
        #expect(html.contains("<strong data-workers>2 of 6</strong> (at most 4 at once)"))
        #expect(html.contains("up 61 min"))
        #expect(html.contains("<tr data-queue=\"builds\">") && html.contains("<td class=\"num\">2/3</td>") && html.contains("<td>paused</td>"))
        #expect(html.contains("<h2>Nodes</h2>"))
        #expect(html.contains("<th scope=\"row\">alpha (this one)</th><td>live</td><td class=\"num\">2</td><td>every queue</td>"))
        #expect(html.contains("<th scope=\"row\">beta&lt;1&gt;</th><td>lapsed</td><td class=\"num\">0</td><td>gpu, render</td>"))
        #expect(!OverviewPage.render(StatusReport(version: "1", uptimeSeconds: 1, states: [:], workers: .init(busy: 0, total: 2), queues: []))
            .description.contains("Nodes"), "a SQLite store has no nodes")
    }
}
