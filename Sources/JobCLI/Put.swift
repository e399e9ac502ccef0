import ArgumentParser
import Foundation
import JobBasics
import JobClient
import JobModel

/// `jobq put`: a payload job for consumers (`jobq work`, the Python client, any program that
/// leases through the API).
struct Put: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put a JSON payload in a queue for consumers and print its id.",
        discussion: """
            The payload is a JSON value: given as the argument, read from a file (@path), or from \
            stdin (- or nothing). A queue holds commands or payloads, never both: a new queue takes \
            the kind of its first job, so `jobq put mail '{"to":"ann"}'` on a fresh daemon makes \
            `mail` a queue for consumers. Consumers lease its jobs (`jobq work mail -- COMMAND`, or \
            the API: docs/consumers.md).

            The answer comes once the job is durable; the id alone goes to stdout.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    @Option(name: .shortAndLong, parsing: .unconditional, help: "Higher is leased first within the queue (-1000000 to 1000000).")
    var priority: Int = 0
    @Option(parsing: .unconditional, help: ArgumentHelp("Lease it no earlier than this long from now.", valueName: "duration"))
    var delay: String?
    @Option(help: ArgumentHelp("Lease it no earlier than this time (ISO 8601).", valueName: "time"))
    var at: String?
    @Option(parsing: .unconditional, help: "Lease it again after a failed attempt (a consumer's fail, or an expired lease) this many times (exponential backoff from 1 s).")
    var retries: Int = 0
    @Option(help: ArgumentHelp("Lease it only after this job succeeded (repeatable).", valueName: "id"))
    var after: [String] = []
    @Option(help: ArgumentHelp("Idempotency key: while a job with this key is live, putting it again returns that job.", valueName: "key"))
    var key: String?
    @Option(help: ArgumentHelp("A label to find the job by (jobq list --label).", valueName: "text"))
    var label: String?
    @Argument(help: ArgumentHelp("The queue.", valueName: "queue"))
    var queue: String
    @Argument(help: ArgumentHelp("The payload: JSON text, @file, or - for stdin (the default).", valueName: "payload"))
    var payload: String = "-"

    func validate() throws {
        if !JobSpec.isValidQueueName(queue) {
            throw ValidationError("'\(queue)' is not a queue name: 1 to \(JobSpec.Limits.queueName) characters from A-Z a-z 0-9 . _ - and not start with . or -")
        }
        if delay != nil, at != nil { throw ValidationError("give either --delay or --at, not both") }
        if retries < 0 || retries >= RetryPolicy.maxAttemptsLimit {
            throw ValidationError("--retries: must be from 0 to \(RetryPolicy.maxAttemptsLimit - 1)")
        }
    }

    /// The payload's JSON text, from the argument, a file or stdin.
    func payloadText() throws -> Data {
        if payload == "-" { return FileHandle.standardInput.readDataToEndOfFile() }
        if payload.hasPrefix("@") {
            let path = String(payload.dropFirst())
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("cannot read the payload file '\(path)'")
            }
            return data
        }
        return Data(payload.utf8)
    }

    func spec() throws -> JobSpec {
        let text = try payloadText()
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: text)
        } catch {
            let shown = String(decoding: text.prefix(40), as: UTF8.self)
            throw ValidationError("the payload is not JSON ('\(shown)'): give a JSON value, for example '{\"to\":\"ann\"}' or '\"text\"' (a string in quotes)")
        }
        var spec = JobSpec(command: .payload(value), queue: queue, priority: priority)
        try Scheduling(delay: delay, at: at, retries: retries, after: after, key: key, label: label).apply(to: &spec)
        return try validated(spec)
    }

    func run() async throws {
        let spec = try spec()
        let client = global.client()
        let submitted = try await client.submit(spec)
        guard let item = submitted.jobs.first else { throw JobClientError.badResponse("the daemon stored no job") }
        if !item.created { printError(Submit.keyHit(item, spec)) }
        if output.json {
            try printJSON(JobJSON(job: try await Submit.fetch(submitted.jobs, client: client)[0]))
        } else {
            writeOut("\(item.id)\n")
        }
    }
}
