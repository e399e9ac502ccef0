import ArgumentParser
import Foundation
import JobClient
import JobModel

/// The jobs a bulk command acts on: ids, or every job matching `--queue`, `--label` and
/// `--state` (as `pueue kill --all` and `tsp -K` act on many). A filter that selects jobs on a
/// terminal asks first; without a terminal it needs `--yes`.
struct JobSelection: ParsableArguments {
    @Option(name: .shortAndLong, help: "Every job of this queue (with --label and --state: those of them).")
    var queue: String?
    @Option(help: "Every job with this label.")
    var label: String?
    @Option(help: ArgumentHelp("Every job in these states (comma-separated).", valueName: "states"))
    var state: String?
    @Flag(name: .shortAndLong, help: "Act on the jobs a filter selects without asking (needed without a terminal; wait never asks).")
    var yes = false
    @Argument(help: ArgumentHelp("The jobs, by id (or a filter instead).", valueName: "id"))
    var ids: [String] = []

    var filtered: Bool { queue != nil || label != nil || state != nil }

    func validate() throws {
        if ids.isEmpty, !filtered { throw ValidationError("give job ids, or --queue, --label or --state to select jobs") }
        if !ids.isEmpty, filtered { throw ValidationError("give either job ids or a filter (--queue, --label, --state), not both") }
        _ = try parseIDs(ids)
        _ = try states(default: [])
    }

    func states(default fallback: [JobState]) throws -> [JobState] {
        try state.map(parseStates) ?? fallback
    }

    /// The ids to act on: those given, or those the filter selects now (in `defaultStates` when
    /// no --state is given), confirmed on a terminal or by --yes when `confirm`.
    func resolve(client: JobClient, verb: String, defaultStates: [JobState], confirm: Bool = true) async throws -> [JobID] {
        if !filtered { return try parseIDs(ids) }
        let states = try states(default: defaultStates)
        var selected: [JobID] = []
        var cursor: JobID?
        repeat {
            let page = try await client.jobs(states: states, queue: queue, label: label, after: cursor, limit: 1000)
            selected += page.jobs.map(\.id)
            cursor = page.nextCursor
        } while cursor != nil
        let what = describe(states)
        if selected.isEmpty {
            printError("jobq: no job matches (\(what))")
            return []
        }
        if yes || !confirm { return selected }
        let count = "\(selected.count) job\(selected.count == 1 ? "" : "s")"
        guard isatty(STDIN_FILENO) == 1, isatty(STDERR_FILENO) == 1 else {
            throw CLIExit(code: 2, message: "jobq: \(verb) \(count) (\(what))? Without a terminal to ask on, give --yes")
        }
        FileHandle.standardError.write(Data("\(verb) \(count) (\(what))? [y/N] ".utf8))
        let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        guard answer == "y" || answer == "yes" else { throw CLIExit(code: 1, message: "jobq: nothing done") }
        return selected
    }

    private func describe(_ states: [JobState]) -> String {
        var parts: [String] = []
        if let queue { parts.append("queue \(queue)") }
        if let label { parts.append("label \(label)") }
        parts.append(states.isEmpty ? "any state" : states.map(\.rawValue).joined(separator: ", "))
        return parts.joined(separator: "; ")
    }
}
