import JobModel

/// One job: its spec, every run with its times, outcome and resource use, the jobs it runs
/// after and those that run after it (as links), its output (followed live while it runs) and, while they apply, the
/// cancel and retry buttons, each with a confirmation.
enum JobPage {
    /// The most dependents listed (the rest are a link away).
    static let maxDependents = 100

    static func render(_ job: Job, runs: [RunRecord], dependents: JobListResponse = JobListResponse(jobs: [], nextCursor: nil)) -> HTML {
        let spec = job.spec
        var facts: [(String, HTML)] = [
            ("State", "<span class=\"state state-\(job.state.rawValue)\" data-state>\(job.state.rawValue)</span>"),
            ("Queue", "<a href=\"/jobs?queue=\(spec.queue)\">\(spec.queue)</a>"),
            (spec.command.isPayload ? "Payload" : "Command", "<code>\(DisplayText.command(spec.command))</code>"),
            ("Priority", "\(spec.priority)"),
            ("Attempts", "\(job.attempts) of \(spec.retry.maxAttempts)"),
            ("Created", "\(JobText.time(job.createdAt))"),
        ]
        if let label = spec.label { facts.append(("Label", "<a href=\"/jobs?\(JobsQuery.encode([("label", label)]))\">\(label)</a>")) }
        if let uid = spec.submitterUID { facts.append(("Submitter", "uid \(uid)")) }
        if let cwd = spec.cwd { facts.append(("Directory", "<code>\(cwd)</code>")) }
        if let timeout = spec.timeout { facts.append(("Timeout", "\(JobText.duration(timeout))")) }
        if let runAt = spec.runAt { facts.append(("Runs at", "\(JobText.time(runAt))")) }
        if let started = job.startedAt { facts.append(("Started", "\(JobText.time(started))")) }
        if let finished = job.finishedAt { facts.append(("Finished", "\(JobText.time(finished))")) }
        let outcome = JobText.outcome(exitCode: job.exitCode, signal: job.signal, error: job.error)
        if !outcome.isEmpty { facts.append(("Outcome", "\(outcome)")) }
        if let consumer = job.consumer { facts.append(("Consumer", "\(consumer)")) }
        if !spec.after.isEmpty {
            facts.append(("Runs after", HTML(joining: spec.after.map { "<a href=\"/jobs/\($0)\">\($0)</a>" }, separator: ", ")))
        }
        if !dependents.jobs.isEmpty {
            var links = dependents.jobs.map { dependent -> HTML in
                "<a href=\"/jobs/\(dependent.id)\">\(dependent.id)</a> <span class=\"state-\(dependent.state.rawValue)\">\(dependent.state.rawValue)</span>"
            }
            if dependents.nextCursor != nil { links.append("and more") }
            facts.append(("Then runs", HTML(joining: links, separator: ", ")))
        }
        let list = facts.map { name, value -> HTML in "<dt>\(name)</dt><dd>\(value)</dd>" }
        return """
            <h1 data-job-id="\(job.id)">Job \(job.id)</h1>
            \(actions(job))
            <dl class="facts">\(list)</dl>
            \(history(runs))
            \(output(job))
            """
    }

    /// Cancel while the job can still be stopped; retry once it has failed or was cancelled.
    static func actions(_ job: Job) -> HTML {
        var buttons: [HTML] = []
        if !job.state.isTerminal {
            buttons.append("""
                <form method="post" action="/jobs/\(job.id)/cancel" data-confirm="Cancel job \(job.id)?">\
                <button type="submit" class="danger">Cancel</button></form>
                """)
        }
        if job.state == .failed || job.state == .cancelled {
            buttons.append("""
                <form method="post" action="/jobs/\(job.id)/retry" data-confirm="Run job \(job.id) again?">\
                <button type="submit">Retry</button></form>
                """)
        }
        return buttons.isEmpty ? "" : "<div class=\"actions\">\(buttons)</div>"
    }

    static func history(_ runs: [RunRecord]) -> HTML {
        guard !runs.isEmpty else { return "" }
        let rows = runs.map { run -> HTML in
            let usage: HTML = run.usage.map { "\(JobText.duration($0.cpu)) CPU, \(DisplayText.bytes($0.maxResidentBytes)) peak memory" } ?? ""
            return """
                <tr><td class="num">\(run.run)</td><td>\(JobText.time(run.startedAt))</td><td>\(JobText.time(run.finishedAt))</td>\
                <td>\(JobText.duration(run.wall))</td><td>\(JobText.outcome(exitCode: run.exitCode, signal: run.signal, error: run.error))</td>\
                <td>\(usage)</td><td>\(run.node ?? "")</td></tr>
                """
        }
        return """
            <h2>Runs</h2>
            <div class="scroll"><table>
            <thead><tr><th scope="col" class="num">#</th><th scope="col">Started</th><th scope="col">Ended</th><th scope="col">Took</th>\
            <th scope="col">Outcome</th><th scope="col">Resources</th><th scope="col">Node</th></tr></thead>
            <tbody>\(rows)</tbody>
            </table></div>
            """
    }

    /// The output of the latest run, both streams as they were read: the script fills it from
    /// the API (following it while the job runs) and keeps it across refreshes.
    static func output(_ job: Job) -> HTML {
        guard !job.spec.command.isPayload else {
            return job.result.map { "<h2>Result</h2><pre>\($0.compactJSON)</pre>" } ?? ""
        }
        guard job.runs > 0 || job.state == .running else { return "<h2>Output</h2><p class=\"muted\">Not run yet.</p>" }
        let follow = job.state.isTerminal ? "false" : "true"
        return """
            <h2>Output</h2>
            <pre id="output" data-keep data-follow="/api/v1/jobs/\(job.id)/logs?stream=both&amp;tail=1000&amp;follow=\(follow)" \
            aria-live="polite" tabindex="0">Loading…</pre>
            """
    }
}
