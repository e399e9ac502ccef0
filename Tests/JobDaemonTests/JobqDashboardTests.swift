import Foundation
import JobQueueTesting
import Testing

/// The dashboard as people reach it: jobqd with `--web`, a link from `jobq dashboard`, pages
/// fetched over TCP (or the dashboard's Unix socket) by curl.
@Suite("jobq dashboard against jobqd --web", .timeLimit(.minutes(2)))
struct JobqDashboardTests {
    struct Answer {
        var status: Int
        var head: String
        var body: String

        /// `jobq_session=…` from the answer's Set-Cookie.
        var cookie: String? {
            head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("set-cookie: jobq_session=") }
                .map { String($0.dropFirst("set-cookie: ".count).prefix { $0 != ";" }) }
        }
    }

    /// `curl -i` with `arguments`: the status, the head and the body.
    static func curl(_ arguments: [String]) async throws -> Answer {
        let process = Process()
        process.executableURL = URL(filePath: "/usr/bin/curl")
        process.arguments = ["--silent", "--include", "--max-time", "20"] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        _ = await DaemonTests().exit(of: process)
        let parts = text.components(separatedBy: "\r\n\r\n")
        let head = parts.first ?? ""
        let status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return Answer(status: status, head: head, body: parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    @Test("A link from jobq dashboard signs in once; pages answer; --sign-out-all ends the session")
    func signInOverTCP() async throws {
        let fixture = try DaemonTests.Fixture()
        let daemon = try fixture.start(["--web", "127.0.0.1:0"])
        #expect(await fixture.awaitNotification("READY=1"))
        let socket = fixture.socketPath
        let submitted = try await JobqCommandTests.jobq(socket, ["submit", "--label", "from-cli", "--", "echo", "hello <world>"])
        try await JobqCommandTests.jobq(socket, ["wait", submitted.stdout.trimmingCharacters(in: .newlines)]).expectSuccess()
        let made = try await JobqCommandTests.jobq(socket, ["dashboard", "--print"])
        #expect(made.status == 0, "\(made.stderr)")
        let link = made.stdout.trimmingCharacters(in: .newlines)
        #expect(link.hasPrefix("http://127.0.0.1:") && link.contains("/sign-in?token="), "\(link)")
        #expect(made.stderr.contains("works once"))
        let base = String(link[..<link.range(of: "/sign-in")!.lowerBound])

        let signedIn = try await Self.curl([link])
        #expect(signedIn.status == 303)
        let cookie = try #require(signedIn.cookie)
        #expect(signedIn.head.contains("HttpOnly") && signedIn.head.contains("SameSite=Strict"))
        #expect(try await Self.curl([link]).status == 401, "a link works once")

        let overview = try await Self.curl(["-b", cookie, base + "/"])
        #expect(overview.status == 200 && overview.body.contains("<h1>Overview</h1>"))
        let jobs = try await Self.curl(["-b", cookie, base + "/jobs?label=from-cli"])
        #expect(jobs.body.contains("hello &lt;world&gt;") && jobs.body.contains("succeeded"), "\(jobs.body)")
        #expect(try await Self.curl([base + "/"]).status == 401, "no cookie")

        let ended = try await JobqCommandTests.jobq(socket, ["dashboard", "--sign-out-all"])
        #expect(ended.status == 0 && ended.stdout.hasPrefix("ended 1 session"), "\(ended.stdout)\(ended.stderr)")
        #expect(try await Self.curl(["-b", cookie, base + "/"]).status == 401)
        daemon.terminate()
        #expect(await DaemonTests().exit(of: daemon) == 0)
    }

    @Test("Without --web, jobq dashboard says the dashboard is off (exit 4)")
    func off() async throws {
        let fixture = try DaemonTests.Fixture()
        let daemon = try fixture.start()
        #expect(await fixture.awaitNotification("READY=1"))
        let refused = try await JobqCommandTests.jobq(fixture.socketPath, ["dashboard", "--print"])
        #expect(refused.status == 4 && refused.stderr.contains("--web"), "\(refused.stderr)")
        daemon.terminate()
        #expect(await DaemonTests().exit(of: daemon) == 0)
    }

    @Test("An address other machines reach is refused (exit 78) unless allowed; a bad one is named")
    func remoteRefused() async throws {
        let fixture = try DaemonTests.Fixture()
        for (arguments, words) in [
            (["--web", "0.0.0.0:0"], "can be reached from other machines"), (["--web", "example.com:80"], "not a name to resolve"),
            (["--web", "127.0.0.1:0", "--web-url", "ftp://x"], "must be an http:// or https:// URL"),
        ] {
            let errors = Pipe()
            let daemon = try fixture.start(arguments, errors: errors)
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(await DaemonTests().exit(of: daemon) == 78, "\(arguments)")
            #expect(message.contains(words), "\(message)")
        }
        let allowed = try fixture.start(["--web", "0.0.0.0:0", "--web-allow-remote"])
        #expect(await fixture.awaitNotification("READY=1"))
        allowed.terminate()
        #expect(await DaemonTests().exit(of: allowed) == 0)
    }

    @Test("On a Unix socket behind a proxy, links carry web_url; without it, only the path")
    func unixSocket() async throws {
        let fixture = try DaemonTests.Fixture()
        let web = fixture.directory + "/web.sock"
        for publicURL in [nil, "https://jobs.example.com"] {
            let daemon = try fixture.start(["--web", web] + (publicURL.map { ["--web-url", $0] } ?? []))
            #expect(await fixture.awaitNotification("READY=1"))
            let link = try await JobqCommandTests.jobq(fixture.socketPath, ["dashboard", "--print"]).stdout.trimmingCharacters(in: .newlines)
            #expect(link.hasPrefix((publicURL ?? "") + "/sign-in?token="), "\(link)")
            let path = String(link.dropFirst((publicURL ?? "").count))
            let host = publicURL == nil ? "localhost" : "jobs.example.com"
            let signedIn = try await Self.curl(["--unix-socket", web, "http://\(host)" + path])
            #expect(signedIn.status == 303)
            #expect(signedIn.head.contains("; Secure") == (publicURL != nil), "a cookie for an https address is Secure")
            let page = try await Self.curl(["--unix-socket", web, "-b", try #require(signedIn.cookie), "http://\(host)/queues"])
            #expect(page.status == 200, "\(page.head)")
            daemon.terminate()
            #expect(await DaemonTests().exit(of: daemon) == 0)
            #expect(!FileManager.default.fileExists(atPath: web), "the socket is removed at exit")
        }
    }

    @Test("GET /v1/events?every=1 sums up a burst of changes in a few `changes` events, none per job")
    func summarizedEvents() async throws {
        let fixture = try DaemonTests.Fixture()
        let daemon = try fixture.start()
        #expect(await fixture.awaitNotification("READY=1"))
        let curl = Process()
        curl.executableURL = URL(filePath: "/usr/bin/curl")
        curl.arguments = ["--silent", "--no-buffer", "--unix-socket", fixture.socketPath, "http://localhost/v1/events?every=1"]
        let output = Pipe()
        curl.standardOutput = output
        try curl.run()
        // The stream's first bytes say it is open: the burst comes after.
        let opening = await onOwnThread { String(decoding: output.fileHandleForReading.availableData, as: UTF8.self) }
        #expect(opening.hasPrefix(": jobqd events"))
        let specs = String(repeating: "true\n", count: 200)
        try await JobqCommandTests.jobq(fixture.socketPath, ["submit", "--stdin"], stdin: specs).expectSuccess()
        // Read until the summaries account for every job's end.
        let text = await onOwnThread {
            var text = ""
            while !text.contains("finished") || Self.total("finished", in: text) < 200 {
                let data = output.fileHandleForReading.availableData
                if data.isEmpty { break }
                text += String(decoding: data, as: UTF8.self)
            }
            return text
        }
        // SIGKILL: a child started from a test's thread inherits its blocked SIGTERM.
        kill(curl.processIdentifier, SIGKILL)
        _ = await DaemonTests().exit(of: curl)
        let names = text.split(separator: "\n").filter { $0.hasPrefix("event: ") }
        #expect(Set(names) == ["event: changes"], "only summaries")
        #expect(Self.total("finished", in: text) == 200 && Self.total("submitted", in: text) == 200)
        #expect(names.count < 200, "\(names.count) summaries for 600 changes")
        let bad = try await DaemonTests().curl(fixture.socketPath, "/v1/events?every=0")
        #expect(bad.0 == 400 && bad.1.contains("every: '0' is not a number of seconds from 0.1 to 60"))
        daemon.terminate()
        #expect(await DaemonTests().exit(of: daemon) == 0)
    }

    /// The sum of `"name":N` over the summaries in `text`.
    static func total(_ name: String, in text: String) -> Int {
        text.components(separatedBy: "\"\(name)\":").dropFirst().reduce(0) { $0 + (Int($1.prefix { $0.isNumber }) ?? 0) }
    }
}
