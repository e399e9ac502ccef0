import JobModel

/// The first view: every job by state, the workers busy and their total, the charts of the last
/// hour, each queue's depth and the nodes sharing a PostgreSQL store, from `GET /v1/status` as
/// the user sees it.
enum OverviewPage {
    static let states = ["queued", "blocked", "running", "succeeded", "failed", "cancelled"]

    static func render(_ status: StatusReport, charts: HTML = "") -> HTML {
        let cards = states.map { state -> HTML in
            "<div class=\"card\"><dt><a href=\"/jobs?state=\(state)\">\(state)</a></dt><dd class=\"state-\(state)\" data-state=\"\(state)\">\(status.states[state] ?? 0)</dd></div>"
        }
        let cap: HTML = status.workers.maxRunning.map { " (at most \($0) at once)" } ?? ""
        let queues = status.queues.map { queue -> HTML in
            let workers: HTML = queue.kind == "payload"
                ? "<td class=\"num\">consumers: \(queue.waitingConsumers) waiting</td>"
                : "<td class=\"num\">\(queue.running)/\(queue.concurrency)</td>"
            return """
                <tr data-queue="\(queue.name)"><th scope="row"><a href="/jobs?queue=\(queue.name)">\(queue.name)</a></th>\
                <td class="num">\(queue.states["queued"] ?? 0)</td><td class="num">\(queue.states["blocked"] ?? 0)</td>\(workers)\
                <td class="num">\(queue.states["failed"] ?? 0)</td><td>\(queue.paused ? "paused" : "")</td></tr>
                """
        }
        let table: HTML = queues.isEmpty ? "<p class=\"muted\">No queue has jobs or workers yet.</p>" : """
            <div class="scroll"><table>
            <thead><tr><th scope="col">Queue</th><th scope="col" class="num">Queued</th><th scope="col" class="num">Blocked</th>\
            <th scope="col" class="num">Running / workers</th><th scope="col" class="num">Failed</th><th scope="col">Paused</th></tr></thead>
            <tbody>\(queues)</tbody>
            </table></div>
            """
        return """
            <h1>Overview</h1>
            <dl class="cards" aria-label="Jobs by state">\(cards)</dl>
            <p>Workers busy: <strong data-workers>\(status.workers.busy) of \(status.workers.total)</strong>\(cap) ·
            jobqd \(status.version), up \(Self.uptime(status.uptimeSeconds))</p>
            \(charts)
            <h2>Queues</h2>
            \(table)
            \(nodes(status.nodes))
            """
    }

    /// The nodes of a shared store, when there are several.
    static func nodes(_ nodes: [NodeInfo]?) -> HTML {
        guard let nodes, !nodes.isEmpty else { return "" }
        let rows = nodes.map { node -> HTML in
            """
            <tr><th scope="row">\(node.name)\(node.isSelf ? " (this one)" : "")</th><td>\(node.lapsed ? "lapsed" : "live")</td>\
            <td class="num">\(node.running)</td><td>\(node.serves?.joined(separator: ", ") ?? "every queue")</td>\
            <td><time datetime="\(node.heartbeatAt)">\(node.heartbeatAt)</time></td></tr>
            """
        }
        return """
            <h2>Nodes</h2>
            <div class="scroll"><table>
            <thead><tr><th scope="col">Node</th><th scope="col">Heartbeat</th><th scope="col" class="num">Running</th>\
            <th scope="col">Serves</th><th scope="col">Last heartbeat</th></tr></thead>
            <tbody>\(rows)</tbody>
            </table></div>
            """
    }

    static func uptime(_ seconds: Double) -> String {
        let whole = Int(seconds)
        if whole < 120 { return "\(whole) s" }
        if whole < 7200 { return "\(whole / 60) min" }
        if whole < 172_800 { return "\(whole / 3600) h" }
        return "\(whole / 86_400) days"
    }
}
