import Foundation
import HTTPTypes
import JobBasics
import JobModel

/// The jobs view's filters and page, read from its query string with the API's rules: an
/// unknown parameter or a value out of range is a 400 with the parameter named, never ignored.
struct JobsQuery: Hashable, Sendable {
    var states: [JobState] = []
    var queue: String?
    var label: String?
    var user: String?
    /// Text the command contains (the search box, when it is not a job id).
    var command: String?
    /// The page starts after this job (newest first).
    var after: JobID?
    var limit = 50

    static let known: Set<String> = ["state", "queue", "label", "user", "after", "limit", "q"]
    static let maxLimit = 200

    /// The filters of `parameters`. The search box (`q`) is a job to open when it is a job id
    /// (the caller's to handle), else text the command contains.
    init(_ parameters: [(String, String)]) throws(WebError) {
        for (name, value) in parameters {
            guard Self.known.contains(name) else {
                throw WebError(.badRequest, "invalid_request", "unknown filter '\(name)': the jobs view takes \(Self.known.sorted().joined(separator: ", "))")
            }
            if value.isEmpty { continue }
            switch name {
            case "state":
                for part in value.split(separator: ",") {
                    guard let state = JobState(rawValue: String(part)) else {
                        throw WebError(.badRequest, "invalid_request",
                                       "state: '\(part)' is not one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    if !states.contains(state) { states.append(state) }
                }
            case "queue":
                guard JobSpec.isValidQueueName(value) else { throw WebError(.badRequest, "invalid_request", "queue: '\(value)' is not a queue name") }
                queue = value
            case "label":
                guard value.utf8.count <= JobSpec.Limits.labelBytes else {
                    throw WebError(.badRequest, "invalid_request", "label: at most \(JobSpec.Limits.labelBytes) bytes")
                }
                label = value
            case "user":
                guard value.utf8.count <= 64 else { throw WebError(.badRequest, "invalid_request", "user: a user name or uid, at most 64 bytes") }
                user = value
            case "q":
                let text = value.trimmingCharacters(in: .whitespaces)
                guard JobID(text) == nil else { continue }
                guard text.count <= 256 else { throw WebError(.badRequest, "invalid_request", "q: look for at most 256 characters of text") }
                command = text.isEmpty ? nil : text
            case "after":
                guard let id = JobID(value) else { throw WebError(.badRequest, "invalid_request", "after: '\(value)' is not a job id") }
                after = id
            case "limit":
                guard let count = Int(value), (1...Self.maxLimit).contains(count) else {
                    throw WebError(.badRequest, "invalid_request", "limit: must be a whole number from 1 to \(Self.maxLimit)")
                }
                limit = count
            default:
                break
            }
        }
    }

    /// The API's `GET /v1/jobs` for this page: newest first.
    var apiPath: String {
        var query = [("order", "desc"), ("limit", String(limit))]
        query += filterPairs.map { $0.0 == "q" ? ("command", $0.1) : $0 }
        if let after { query.append(("after", after.description)) }
        return "/v1/jobs?" + Self.encode(query)
    }

    /// The filters (not the page) as query pairs, for the pager's links.
    var filterPairs: [(String, String)] {
        var pairs: [(String, String)] = []
        if !states.isEmpty { pairs.append(("state", states.map(\.rawValue).joined(separator: ","))) }
        if let queue { pairs.append(("queue", queue)) }
        if let label { pairs.append(("label", label)) }
        if let user { pairs.append(("user", user)) }
        if let command { pairs.append(("q", command)) }
        if limit != 50 { pairs.append(("limit", String(limit))) }
        return pairs
    }

    static func encode(_ pairs: [(String, String)]) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+;#")
        return pairs.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
    }
}
