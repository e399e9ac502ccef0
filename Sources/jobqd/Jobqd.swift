import ArgumentParser
import Foundation
import JobDaemon
import Logging

@main
struct Jobqd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobqd",
        abstract: "The jobq daemon: runs queued jobs with bounded concurrency, durably.",
        discussion: """
            Every option can also come from the environment (JOBQ_STATE_DIR, JOBQ_SOCKET, JOBQ_WORKERS, \
            JOBQ_DURABILITY, JOBQ_DRAIN_GRACE_SECONDS, JOBQ_KILL_GRACE_SECONDS, \
            JOBQ_OUTPUT_LIMIT_BYTES, JOBQ_LOG_LEVEL, JOBQ_SOCKET_GROUP, JOBQ_MAX_CONNECTIONS, JOBQ_MAX_BODY_BYTES, JOBQ_RUN_AS, \
            JOBQ_ALLOW_ROOT_JOBS, JOBQ_ALLOW_SUBMIT, JOBQ_DENY_SUBMIT, JOBQ_ADMIN_GROUP, JOBQ_STORE, JOBQ_NODE, JOBQ_SERVE_QUEUES, JOBQ_HEARTBEAT_LAPSE_SECONDS, JOBQ_WEB, JOBQ_WEB_URL, JOBQ_WEB_ALLOW_REMOTE, JOBQ_CONFIG) or a \
            config file of `key = value` lines (state_dir, socket, socket_group, max_connections, max_body_bytes, workers, max_running, \
            durability, drain_grace_seconds, kill_grace_seconds, output_limit_bytes, log_level, run_as, allow_root_jobs, allow_submit, deny_submit, admin_group, store, node, serve_queues, heartbeat_lapse_seconds, web, web_url, web_allow_remote, \
            queue.NAME.concurrency, queue.NAME.LIMIT.default, queue.NAME.LIMIT.ceiling). socket_group gives the socket (mode 0660) to a group whose members may \
            submit. max_body_bytes (default 1048576) bounds an API request's body, so one batch of \
            submits (jobq submit --stdin). A socket passed by socket activation (LISTEN_FDS) is served instead of --socket. The command \
            line overrides the environment, which overrides the file. Under systemd, \
            STATE_DIRECTORY and RUNTIME_DIRECTORY give the default state directory and socket, and the daemon speaks the \
            sd_notify protocol (READY=1 once the socket accepts connections, STATUS=, WATCHDOG=1, STOPPING=1). SIGTERM and SIGINT \
            drain: no new jobs start, running ones get the drain grace period, then are stopped \
            and requeued.
            """)

    @Option(name: .long, help: ArgumentHelp("The state directory: database, job logs, lock.", valueName: "dir"))
    var stateDir: String?

    @Option(name: .long, help: ArgumentHelp("The API's Unix socket (default /run/jobq/jobq.sock for root, else $XDG_RUNTIME_DIR/jobq/jobq.sock).", valueName: "path"))
    var socket: String?

    @Option(name: .long, help: "Jobs run at once in each queue that has no concurrency of its own (1–1024; default 2). Per queue: see --max-running for all of them.")
    var workers: Int?

    @Option(name: .long, help: "At most this many jobs run at once over every queue, whatever each queue allows (1–65536; default: no such cap).")
    var maxRunning: Int?

    @Option(name: .long, help: ArgumentHelp("full (fsync every commit; default) or normal (faster, may lose the last commits on power loss).", valueName: "mode"))
    var durability: String?

    @Option(name: .long, help: ArgumentHelp("Seconds running jobs get on SIGTERM before they are stopped and requeued (default 10).", valueName: "seconds"))
    var drainGrace: String?

    @Option(name: .long, help: ArgumentHelp("Who jobs run as: daemon (the daemon's user; default) or submitter (the user who submitted each; jobqd needs root, or CAP_SETUID, CAP_SETGID and CAP_KILL; root's jobs are refused unless allow_root_jobs = true).", valueName: "who"))
    var runAs: String?

    @Option(name: .long, help: ArgumentHelp("Where jobs are kept: sqlite:///PATH (default: jobs.db in the state directory) or postgresql://USER@HOST[:PORT]/DATABASE[?host=/SOCKET/DIR&sslmode=…], a database several jobqd share. A password comes from password_file=PATH in the URL or JOBQ_STORE_PASSWORD, never the URL.", valueName: "url"))
    var store: String?

    @Option(name: .long, help: ArgumentHelp("This jobqd's name among the nodes of a PostgreSQL store (default: the host's name).", valueName: "name"))
    var node: String?

    @Option(name: .long, help: ArgumentHelp("On a PostgreSQL store: run the jobs of these queues only (comma-separated; default: every queue), leaving the others to the nodes that serve them.", valueName: "queues"))
    var serveQueues: String?

    @Option(name: .long, help: ArgumentHelp("Serve the web dashboard here: a loopback address (127.0.0.1:8377) or a Unix socket path for a reverse proxy. Off by default; people sign in with `jobq dashboard`.", valueName: "address"))
    var web: String?

    @Option(name: .long, help: ArgumentHelp("The dashboard's address as people open it, when a proxy stands in front (https://jobs.example.com): sign-in links name it.", valueName: "url"))
    var webURL: String?

    @Flag(name: .long, help: "Allow --web on an address other machines can reach (otherwise refused; prefer a TLS proxy).")
    var webAllowRemote = false

    @Option(name: .long, help: ArgumentHelp("A config file of key = value lines.", valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("trace, debug, info (default), notice, warning, error or critical.", valueName: "level"))
    var logLevel: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var configuration = DaemonConfiguration.defaults(environment: environment, uid: getuid())
        do {
            if let file = config ?? environment["JOBQ_CONFIG"] { try configuration.apply(file: file) }
            try configuration.apply(environment: environment)
            if let stateDir { try configuration.set("state_dir", stateDir, source: "--state-dir") }
            if let socket { try configuration.set("socket", socket, source: "--socket") }
            if let workers { try configuration.set("workers", String(workers), source: "--workers") }
            if let maxRunning { try configuration.set("max_running", String(maxRunning), source: "--max-running") }
            if let durability { try configuration.set("durability", durability, source: "--durability") }
            if let drainGrace { try configuration.set("drain_grace_seconds", drainGrace, source: "--drain-grace") }
            if let logLevel { try configuration.set("log_level", logLevel, source: "--log-level") }
            if let runAs { try configuration.set("run_as", runAs, source: "--run-as") }
            if let store { try configuration.set("store", store, source: "--store") }
            if let node { try configuration.set("node", node, source: "--node") }
            if let serveQueues { try configuration.set("serve_queues", serveQueues, source: "--serve-queues") }
            if let web { try configuration.set("web", web, source: "--web") }
            if let webURL { try configuration.set("web_url", webURL, source: "--web-url") }
            if webAllowRemote { try configuration.set("web_allow_remote", "true", source: "--web-allow-remote") }
            _ = try configuration.dashboard()
        } catch {
            FileHandle.standardError.write(Data("jobqd: \(error)\n".utf8))
            throw ExitCode(78)
        }
        let journal = environment["JOURNAL_STREAM"] != nil
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in JournalLogHandler(label: label, level: level, journal: journal) }
        let logger = Logger(label: "jobqd")
        do {
            try await JobDaemon.run(configuration, environment: environment, logger: logger)
        } catch {
            logger.critical("\(error.description)")  // to standard error, where the journal reads it
            throw ExitCode(error.exitCode)
        }
    }
}
