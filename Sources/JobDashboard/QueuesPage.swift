import JobModel

/// Each queue with its depth, its running jobs, its workers (editable) and whether it is paused
/// (a toggle). The changes are forms posted to the dashboard, which asks the API as the user:
/// the daemon's user, root and the admin group may make them, as on the socket.
enum QueuesPage {
    static func render(_ queues: [QueueInfo]) -> HTML {
        guard !queues.isEmpty else { return "<h1>Queues</h1>\n<p class=\"muted\">No queue has jobs or workers yet.</p>" }
        let rows = queues.map { queue -> HTML in
            let pause: HTML = queue.paused
                ? "<form class=\"inline\" method=\"post\" action=\"/queues/\(queue.name)/resume\"><span class=\"state-cancelled\">paused</span> <button type=\"submit\">Resume</button></form>"
                : "<form class=\"inline\" method=\"post\" action=\"/queues/\(queue.name)/pause\"><span>running</span> <button type=\"submit\">Pause</button></form>"
            let workers: HTML = queue.kind == "payload"
                ? "<td>consumers (\(queue.waitingConsumers) waiting)</td>"
                : """
                  <td><form class="inline" method="post" action="/queues/\(queue.name)/concurrency">\
                  <label for="workers-\(queue.name)" class="muted">workers</label>\
                  <input id="workers-\(queue.name)" name="concurrency" type="number" min="1" max="1024" required value="\(queue.concurrency)">\
                  <button type="submit">Set</button></form></td>
                  """
            return """
                <tr data-queue="\(queue.name)"><th scope="row"><a href="/jobs?queue=\(queue.name)">\(queue.name)</a></th>\
                <td class="num" data-depth>\(queue.states["queued"] ?? 0)</td><td class="num" data-running>\(queue.running)</td>\
                \(workers)<td data-paused="\(queue.paused)">\(pause)</td></tr>
                """
        }
        return """
            <h1>Queues</h1>
            <div class="scroll"><table>
            <thead><tr><th scope="col">Queue</th><th scope="col" class="num">Depth</th><th scope="col" class="num">Running</th>\
            <th scope="col">Concurrency</th><th scope="col">State</th></tr></thead>
            <tbody>\(rows)</tbody>
            </table></div>
            """
    }
}
