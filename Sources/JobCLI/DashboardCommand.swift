import ArgumentParser
import Foundation
import JobClient
import JobModel

/// `jobq dashboard`: a one-time sign-in link to the web dashboard for the user running it (the
/// daemon learns who that is from the socket, not from anything typed), opened in a browser when
/// there is one; or the end of that user's sessions.
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Sign in to the web dashboard with a one-time link.",
        discussion: """
            Asks jobqd for a sign-in link bound to you, prints it, and opens it in your browser when one \
            is available ($BROWSER, or xdg-open on a desktop). The link works once, within a minute; the \
            session it starts lasts 12 hours, and sees and does what you may on the socket. jobqd serves \
            the dashboard when it runs with --web (web = 127.0.0.1:8377 in its config file).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    @Flag(name: .customLong("print"), help: "Only print the link; do not open a browser.")
    var printOnly = false

    @Flag(help: "End your dashboard sessions and unused links instead (an administrator's ends everyone's).")
    var signOutAll = false

    func run() async throws {
        let client = global.client()
        if signOutAll {
            let ended = try await client.signOutOfDashboard()
            if output.json { return try printJSON(ended) }
            print("ended \(ended.ended) session\(ended.ended == 1 ? "" : "s") and unused link\(ended.ended == 1 ? "" : "s")")
            return
        }
        let link = try await client.dashboardLink()
        if output.json { return try printJSON(link) }
        print(link.url)
        if link.url.hasPrefix("/") {
            printError("the dashboard listens on a Unix socket: open this path at your proxy's address (jobqd's web_url names it in links)")
            return
        }
        printError("one-time link: it works once, within \(link.expiresInSeconds) s; the session lasts \(link.sessionSeconds / 3600) h")
        if !printOnly, let browser = Self.browser() {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [browser, link.url]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try? process.run()
        }
    }

    /// `$BROWSER`, else `xdg-open` when a desktop session is there to open it in.
    static func browser(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let browser = environment["BROWSER"], !browser.isEmpty { return browser }
        guard environment["DISPLAY"] != nil || environment["WAYLAND_DISPLAY"] != nil else { return nil }
        let path = environment["PATH"] ?? "/usr/bin:/bin"
        let found = path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/xdg-open") }
        return found ? "xdg-open" : nil
    }
}
