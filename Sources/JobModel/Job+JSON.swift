import JobBasics

/// A direct JSON writer for ``Job``, for the API's answers: Foundation's `JSONEncoder` took
/// 13–15 % of jobqd's CPU in a batched lease-and-complete run (perf, 2026-12-07), most of it
/// walking the spec's Codable tree. `JSONDecoder` reads this back to an equal job (the tests
/// check it); the field names are Codable's.
extension Job {
    /// The job as compact JSON with the API's field names.
    public var compactJSON: String {
        var out = JSONOutput()
        write(to: &out)
        return out.text
    }

    /// Writes the job as one JSON object into `out`.
    public func write(to out: inout JSONOutput) {
        out.beginObject()
        out.key("id"); out.integer(id.rawValue)
        out.key("state"); out.string(state.rawValue)
        out.key("spec"); spec.write(to: &out)
        out.key("attempts"); out.integer(Int64(attempts))
        out.key("interrupted_attempts"); out.integer(Int64(interruptedAttempts))
        out.key("runs"); out.integer(Int64(runs))
        out.key("run_at"); out.string(runAt.description)
        out.key("created_at"); out.string(createdAt.description)
        out.key("updated_at"); out.string(updatedAt.description)
        if let startedAt { out.key("started_at"); out.string(startedAt.description) }
        if let finishedAt { out.key("finished_at"); out.string(finishedAt.description) }
        if let exitCode { out.key("exit_code"); out.integer(Int64(exitCode)) }
        if let signal { out.key("signal"); out.integer(Int64(signal)) }
        if let error { out.key("error"); out.string(error) }
        if let stdoutPath { out.key("stdout_path"); out.string(stdoutPath) }
        if let stderrPath { out.key("stderr_path"); out.string(stderrPath) }
        if let lease {
            out.key("lease")
            out.beginObject()
            out.key("token"); out.string(lease.token.description)
            out.key("consumer"); out.string(lease.consumer)
            out.key("expires_at"); out.string(lease.expiresAt.description)
            out.endObject()
        }
        if let consumer { out.key("consumer"); out.string(consumer) }
        if let result { out.key("result"); result.write(to: &out) }
        if let usage {
            out.key("usage")
            out.beginObject()
            out.key("user_cpu_seconds"); out.number(usage.userCPU.inSeconds)
            out.key("system_cpu_seconds"); out.number(usage.systemCPU.inSeconds)
            out.key("max_rss_bytes"); out.integer(usage.maxResidentBytes)
            out.endObject()
        }
        out.endObject()
    }

    /// `{"jobs": [job, …]}`, as the lease route answers, with the outcomes of the completions
    /// the request carried, if any: UTF-8 bytes, for the answer's body.
    public static func listJSON(_ jobs: [Job], completed: [CompleteManyResponse.Outcome]? = nil) -> [UInt8] {
        var out = JSONOutput()
        out.beginObject()
        out.key("jobs")
        out.array(jobs) { out, job in job.write(to: &out) }
        if let completed {
            out.key("completed")
            out.array(completed) { out, outcome in
                out.beginObject()
                out.key("token"); out.string(outcome.token.description)
                if let state = outcome.state { out.key("state"); out.string(state.rawValue) }
                if let error = outcome.error {
                    out.key("error")
                    out.beginObject()
                    out.key("code"); out.string(error.code)
                    out.key("message"); out.string(error.message)
                    out.endObject()
                }
                out.endObject()
            }
        }
        out.endObject()
        return out.bytes
    }
}
