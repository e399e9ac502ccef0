import JobModel

/// The queues whose jobs are payloads for consumers: each with its jobs waiting and the
/// consumers waiting for work, and the jobs leased now with who holds each and until when (the
/// lease tokens, which act on a job, are not shown).
enum ConsumersPage {
    /// The most leases listed per queue.
    static let maxLeases = 200

    static func render(_ queues: [(queue: QueueInfo, leased: JobListResponse)]) -> HTML {
        guard !queues.isEmpty else {
            return """
                <h1>Consumers</h1>
                <p class="muted">No queue holds payload jobs for consumers (jobq put, POST /v1/jobs with a payload).</p>
                """
        }
        let sections = queues.map { queue, leased -> HTML in
            let rows = leased.jobs.map { job -> HTML in
                """
                <tr data-job="\(job.id)"><td><a href="/jobs/\(job.id)">\(job.id)</a></td><td>\(job.lease?.consumer ?? job.consumer ?? "")</td>\
                <td>\(JobText.time(job.lease?.expiresAt))</td><td class="num">\(job.attempts) of \(job.spec.retry.maxAttempts)</td>\
                <td class="command">\(DisplayText.command(job.spec.command))</td></tr>
                """
            }
            let more: HTML = leased.nextCursor == nil ? "" : "<p class=\"muted\">The first \(maxLeases) leases are shown.</p>"
            let table: HTML = rows.isEmpty ? "<p class=\"muted\">No job is leased now.</p>" : """
                <div class="scroll"><table>
                <thead><tr><th scope="col">Job</th><th scope="col">Consumer</th><th scope="col">Lease ends (UTC)</th>\
                <th scope="col" class="num">Attempt</th><th scope="col">Payload</th></tr></thead>
                <tbody>\(rows)</tbody>
                </table></div>
                \(more)
                """
            return """
                <section data-queue="\(queue.name)">
                <h2><a href="/jobs?queue=\(queue.name)">\(queue.name)</a></h2>
                <p>Waiting: <strong>\(queue.states["queued"] ?? 0)</strong> jobs · leased: <strong>\(queue.states["running"] ?? 0)</strong> · \
                consumers waiting for work: <strong data-waiting>\(queue.waitingConsumers)</strong></p>
                \(table)
                </section>
                """
        }
        return "<h1>Consumers</h1>\n\(sections)"
    }
}
