import Foundation

/// The capabilities jobqd needs to run jobs as their submitters without being root, read from
/// its effective set, so that a unit missing one stops jobqd at start with a sentence naming
/// it instead of failing each job.
enum DaemonCapabilities {
    /// The capabilities run-as-submitter needs: change a job's groups and user, and signal its
    /// processes (which are then another user's) at a timeout, cancel or stop.
    static let needed: [(name: String, bit: Int)] = [("CAP_SETUID", 7), ("CAP_SETGID", 6), ("CAP_KILL", 5)]

    /// The names of the ``needed`` capabilities missing from `status` (the text of
    /// `/proc/self/status`); all of them when its `CapEff:` line cannot be read.
    static func missing(status: String) -> [String] {
        let line = status.split(separator: "\n").first { $0.hasPrefix("CapEff:") }
        guard let hex = line?.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces),
              let effective = UInt64(hex, radix: 16) else { return needed.map(\.name) }
        return needed.filter { effective & (1 << UInt64($0.bit)) == 0 }.map(\.name)
    }

    /// Refuses run-as-submitter to a daemon that is neither root nor holds every needed capability.
    static func check(runAsSubmitter: Bool) throws(DaemonError) {
        guard runAsSubmitter, geteuid() != 0 else { return }
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let absent = missing(status: status)
        guard !absent.isEmpty else { return }
        throw DaemonError(
            description: "run_as = submitter needs root or the capabilities CAP_SETUID, CAP_SETGID and CAP_KILL; "
                + "this jobqd (uid \(geteuid())) lacks \(absent.joined(separator: ", ")) "
                + "(under systemd: AmbientCapabilities= in a drop-in, docs/operations.md, \"A shared machine\")",
            exitCode: 78)
    }
}
