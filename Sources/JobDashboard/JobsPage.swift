import JobModel

/// The jobs, newest first, filtered by state, queue, label and user or found by their command's
/// text (or opened by id), a page at a time: each page
/// starts after the last job of the one before (the API's cursor), so that a page costs the same
/// whether the store holds a thousand jobs or a million.
enum JobsPage {
    static func render(_ page: JobListResponse, _ query: JobsQuery) -> HTML {
        let rows = page.jobs.map { job -> HTML in
            """
            <tr data-job="\(job.id)"><td><a href="/jobs/\(job.id)">\(job.id)</a></td>\
            <td class="state state-\(job.state.rawValue)">\(job.state.rawValue)</td><td>\(job.spec.queue)</td>\
            <td class="command">\(DisplayText.command(job.spec.command))</td><td>\(job.spec.label ?? "")</td>\
            <td>\(job.spec.submitterUID.map(String.init) ?? "")</td><td>\(JobText.time(job.createdAt))</td>\
            <td>\(JobText.time(job.finishedAt))</td></tr>
            """
        }
        let table: HTML = rows.isEmpty ? "<p class=\"muted\">No job matches.</p>" : """
            <div class="scroll"><table>
            <thead><tr><th scope="col">Id</th><th scope="col">State</th><th scope="col">Queue</th><th scope="col">Command</th>\
            <th scope="col">Label</th><th scope="col">Uid</th><th scope="col">Created (UTC)</th><th scope="col">Finished (UTC)</th></tr></thead>
            <tbody>\(rows)</tbody>
            </table></div>
            """
        let filters = JobsQuery.encode(query.filterPairs)
        var pager: [HTML] = []
        if query.after != nil { pager.append("<a href=\"/jobs\(filters.isEmpty ? "" : "?" + filters)\">Newest</a>") }
        if let next = page.nextCursor {
            let link = JobsQuery.encode(query.filterPairs + [("after", next.description)])
            pager.append("<a href=\"/jobs?\(link)\" rel=\"next\">Older</a>")
        }
        return """
            <h1>Jobs</h1>
            \(form(query))
            \(table)
            <nav class="pager" aria-label="Pages">\(pager)</nav>
            """
    }

    static func form(_ query: JobsQuery) -> HTML {
        let selected = query.states.count == 1 ? query.states[0].rawValue : ""
        let options = ([""] + JobState.allCases.map(\.rawValue)).map { state -> HTML in
            "<option value=\"\(state)\"\(state == selected ? " selected" : "")>\(state.isEmpty ? "any" : state)</option>"
        }
        return """
            <form class="filters" method="get" action="/jobs" role="search">
            <label>State <select name="state">\(options)</select></label>
            <label>Queue <input name="queue" value="\(query.queue ?? "")" size="12"></label>
            <label>Label <input name="label" value="\(query.label ?? "")" size="12"></label>
            <label>User <input name="user" value="\(query.user ?? "")" size="10"></label>
            <button type="submit">Filter</button>
            </form>
            <form class="filters" method="get" action="/jobs" role="search">
            <label>Job id or command text <input name="q" value="\(query.command ?? "")" size="24"></label>
            <button type="submit">Search</button>
            </form>
            """
    }
}
