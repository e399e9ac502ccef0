import Foundation
import JobAPI
import JobBasics
import JobDashboard
import JobEngine
import JobModel
import JobRunner
import JobStore
import JobStorePostgres
import JobStoring
import Logging

/// Everything `jobqd` can be told, with where each value came from resolved: embedded
/// defaults, then the config file, then the environment, then the command line (each overrides
/// the one before).
public struct DaemonConfiguration: Hashable, Sendable {
    /// Where the database (`jobs.db`), the job logs (`logs/`) and the lock live.
    public var stateDirectory: String
    /// The API's Unix socket.
    public var socketPath: String
    /// The group that owns the socket (mode 0660): its members may submit. `nil` keeps the
    /// daemon's group.
    public var socketGroup: String? = nil
    /// Connections the API serves at once (default: the API's own).
    public var maxConnections: Int = APILimits().maxConnections
    /// The largest API request body accepted (`payload_too_large` above it): it bounds one
    /// batch of submits, which is read whole before it is stored (default: the API's own).
    public var maxBodyBytes: Int = APILimits().maxBodyBytes
    /// Workers of a queue that has no concurrency of its own.
    public var workers: Int
    /// Workers per named queue (`queue.NAME.concurrency = N` in the config file).
    public var queueConcurrency: [String: Int]
    /// At most this many jobs run at once over every queue (`nil`: only the queues' limits).
    public var maxRunning: Int? = nil
    /// Resource limits per queue, `*` for every queue (`queue.NAME.max_memory.default = 2G`,
    /// `queue.NAME.max_memory.ceiling = 8G`, and so for max_cpu, max_files, max_procs,
    /// max_file_size).
    public var queueLimits: [String: QueueLimits] = [:]
    /// How claims order jobs across submitters (`fairness`) and cap each one's running jobs
    /// (`max_running_per_user`), for queues without settings of their own.
    public var claimPolicy = ClaimPolicy()
    /// `queue.NAME.fairness` settings, over ``claimPolicy``.
    public var queueFairness: [String: ClaimPolicy.Fairness] = [:]
    /// `queue.NAME.max_running_per_user` settings, over ``claimPolicy``.
    public var queueMaxRunningPerUser: [String: Int] = [:]
    /// `full` (fsync every commit; the default) or `normal`.
    public var durability: StoreConfiguration.Durability
    /// Where the jobs are kept (`store`): nil for the SQLite database in the state directory,
    /// `sqlite:///PATH` for another file, or a `postgresql://` URL for a database several jobqd
    /// share.
    public var storeURL: String? = nil
    /// This jobqd's name among the nodes of a PostgreSQL store (`node`; default: the host's name).
    public var node: String? = nil
    /// On a PostgreSQL store: a node silent this long is taken for dead, and its running jobs
    /// run again elsewhere (`heartbeat_lapse_seconds`; default 30).
    public var heartbeatLapse: Duration = .seconds(30)
    /// On a PostgreSQL store: the queues whose jobs this node runs (`serve_queues`, a
    /// comma-separated list; nil: every queue), so that work can be pinned to the hosts that
    /// can do it.
    public var serveQueues: Set<String>? = nil
    /// On SIGTERM, how long running jobs may go on before they are stopped and requeued.
    public var drainGrace: Duration
    /// Between SIGTERM and SIGKILL when a job is stopped (timeout, cancel, drain).
    public var killGrace: Duration
    /// The most bytes kept of each of a job's output streams.
    public var outputLimit: Int
    /// The least severe level logged.
    public var logLevel: Logger.Level
    /// Whether jobs run as the user who submitted each (`run_as = submitter`) rather than as
    /// the daemon's user (`daemon`, the default).
    public var runAsSubmitter = false
    /// With ``runAsSubmitter``: whether root's jobs are allowed (`allow_root_jobs`).
    public var allowRootJobs = false
    /// Who may submit (`allow_submit`, `deny_submit`: user names and `@group`s); nil: everyone
    /// who can reach the socket.
    public var submitPolicy: SubmitPolicy? = nil
    /// The group whose members see and act on every job and administer the queues, as root
    /// and the daemon's user do (`admin_group`, a name or a gid).
    public var adminGroup: UInt32? = nil
    /// Where the web dashboard listens (`web`: `127.0.0.1:8377` or a Unix socket path); nil:
    /// no dashboard.
    public var web: WebAddress? = nil
    /// The address people open the dashboard at, when a proxy stands in front (`web_url`).
    public var webURL: String? = nil
    /// Whether `web` may be an address other machines can reach (`web_allow_remote`): without
    /// it, jobqd refuses to start on one.
    public var webAllowRemote = false

    /// A problem with the configuration: the source and what is wrong, in one sentence.
    public struct Problem: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String

        public init(description: String) {
            self.description = description
        }
    }

    /// The embedded defaults: state in `$STATE_DIRECTORY` under systemd, `/var/lib/jobq` for
    /// root, else `$XDG_STATE_HOME/jobq` (or `~/.local/state/jobq`); the socket in
    /// `$RUNTIME_DIRECTORY/jobq.sock` under systemd, `/run/jobq/jobq.sock` for root, else
    /// `$XDG_RUNTIME_DIR/jobq/jobq.sock` (or `jobq.sock` in the state directory).
    public static func defaults(environment: [String: String], uid: UInt32) -> DaemonConfiguration {
        let state = DefaultPaths.stateDirectory(environment: environment, uid: uid)
        let socket = DefaultPaths.socket(environment: environment, uid: uid)
        return DaemonConfiguration(
            stateDirectory: state, socketPath: socket, workers: 2, queueConcurrency: [:], durability: .full,
            drainGrace: .seconds(10), killGrace: .seconds(10), outputLimit: 64 << 20, logLevel: .info)
    }

    /// The keys a config file and the environment may set, with their `JOBQ_` variable.
    static let keys: [(key: String, variable: String)] = [
        ("state_dir", "JOBQ_STATE_DIR"), ("socket", "JOBQ_SOCKET"), ("socket_group", "JOBQ_SOCKET_GROUP"), ("max_connections", "JOBQ_MAX_CONNECTIONS"),
        ("max_body_bytes", "JOBQ_MAX_BODY_BYTES"),
        ("workers", "JOBQ_WORKERS"), ("max_running", "JOBQ_MAX_RUNNING"), ("durability", "JOBQ_DURABILITY"),
        ("drain_grace_seconds", "JOBQ_DRAIN_GRACE_SECONDS"), ("kill_grace_seconds", "JOBQ_KILL_GRACE_SECONDS"),
        ("output_limit_bytes", "JOBQ_OUTPUT_LIMIT_BYTES"), ("log_level", "JOBQ_LOG_LEVEL"),
        ("run_as", "JOBQ_RUN_AS"), ("allow_root_jobs", "JOBQ_ALLOW_ROOT_JOBS"),
        ("allow_submit", "JOBQ_ALLOW_SUBMIT"), ("deny_submit", "JOBQ_DENY_SUBMIT"), ("admin_group", "JOBQ_ADMIN_GROUP"),
        ("fairness", "JOBQ_FAIRNESS"), ("max_running_per_user", "JOBQ_MAX_RUNNING_PER_USER"),
        ("store", "JOBQ_STORE"), ("node", "JOBQ_NODE"), ("heartbeat_lapse_seconds", "JOBQ_HEARTBEAT_LAPSE_SECONDS"),
        ("serve_queues", "JOBQ_SERVE_QUEUES"),
        ("web", "JOBQ_WEB"), ("web_url", "JOBQ_WEB_URL"), ("web_allow_remote", "JOBQ_WEB_ALLOW_REMOTE"),
    ]

    /// The claim policy of each queue with settings of its own.
    public var claimPolicies: [String: ClaimPolicy] {
        var policies: [String: ClaimPolicy] = [:]
        for queue in Set(queueFairness.keys).union(queueMaxRunningPerUser.keys) {
            policies[queue] = ClaimPolicy(
                fairness: queueFairness[queue] ?? claimPolicy.fairness,
                maxRunningPerUser: queueMaxRunningPerUser[queue] ?? claimPolicy.maxRunningPerUser)
        }
        return policies
    }

    /// Sets one key from text; `source` names where it came from, for the error message.
    public mutating func set(_ key: String, _ value: String, source: String) throws(Problem) {
        func fail(_ requirement: String) -> Problem {
            Problem(description: "\(source): \(key) = \(value): \(requirement)")
        }
        func fairness() throws(Problem) -> ClaimPolicy.Fairness {
            guard let fairness = ClaimPolicy.Fairness(rawValue: value) else { throw fail("must be round_robin or fifo") }
            return fairness
        }
        func perUserCap() throws(Problem) -> Int {
            guard let count = Int(value), (1...1024).contains(count) else { throw fail("must be a whole number from 1 to 1024") }
            return count
        }
        func boolean() throws(Problem) -> Bool {
            switch value {
            case "true", "yes", "1": return true
            case "false", "no", "0": return false
            default: throw fail("must be true or false")
            }
        }
        func seconds() throws(Problem) -> Duration {
            guard let number = Double(value), number.isFinite, number >= 0, number <= 86_400 else {
                throw fail("must be a number of seconds from 0 to 86400")
            }
            return .milliseconds(Int64(number * 1000))
        }
        switch key {
        case "state_dir":
            guard value.startsWithByte(UInt8(ascii: "/")) else { throw fail("must be an absolute path") }
            stateDirectory = value
        case "socket":
            guard value.startsWithByte(UInt8(ascii: "/")), value.utf8.count < 108 else { throw fail("must be an absolute path of at most 107 bytes") }
            socketPath = value
        case "socket_group":
            guard !value.isEmpty, value.utf8.count <= 32 else { throw fail("must be a group name or number") }
            socketGroup = value
        case "max_connections":
            guard let count = Int(value), (1...65_536).contains(count) else { throw fail("must be a whole number from 1 to 65536") }
            maxConnections = count
        case "max_body_bytes":
            guard let bytes = Int(value), (4096...(256 << 20)).contains(bytes) else {
                throw fail("must be a whole number of bytes from 4096 to 268435456 (256 MiB)")
            }
            maxBodyBytes = bytes
        case "workers":
            guard let count = Int(value), (1...1024).contains(count) else { throw fail("must be a whole number from 1 to 1024") }
            workers = count
        case "max_running":
            guard let count = Int(value), (1...65_536).contains(count) else { throw fail("must be a whole number from 1 to 65536") }
            maxRunning = count
        case "durability":
            guard let mode = StoreConfiguration.Durability(rawValue: value) else { throw fail("must be full or normal") }
            durability = mode
        case "drain_grace_seconds": drainGrace = try seconds()
        case "heartbeat_lapse_seconds":
            let lapse = try seconds()
            guard lapse >= .seconds(1) else { throw fail("must be at least 1 second") }
            heartbeatLapse = lapse
        case "kill_grace_seconds": killGrace = try seconds()
        case "output_limit_bytes":
            guard let bytes = Int(value), bytes >= 0 else { throw fail("must be a whole number of bytes") }
            outputLimit = bytes
        case "run_as":
            switch value {
            case "daemon": runAsSubmitter = false
            case "submitter": runAsSubmitter = true
            default: throw fail("must be daemon or submitter")
            }
        case "allow_root_jobs": allowRootJobs = try boolean()
        case "web_allow_remote": webAllowRemote = try boolean()
        case "web":
            do throws(WebAddressError) {
                web = try WebAddress(parsing: value)
            } catch {
                throw fail("\(error)")
            }
        case "web_url":
            guard value.hasPrefix("http://") || value.hasPrefix("https://"), DashboardSettings.isURL(value) else {
                throw fail("must be an http:// or https:// URL, as people open the dashboard (https://jobs.example.com)")
            }
            webURL = value
        case "admin_group":
            guard let gid = UInt32(value) ?? JobIdentity.gid(ofGroup: value) else {
                throw fail("no group '\(value)' on this machine")
            }
            adminGroup = gid
        case "allow_submit", "deny_submit":
            let principals: [SubmitPolicy.Principal]
            do throws(PolicyError) {
                principals = try SubmitPolicy.principals(value)
            } catch {
                throw fail("\(error)")
            }
            var policy = submitPolicy ?? SubmitPolicy()
            if key == "allow_submit" { policy.allowed = principals } else { policy.denied = principals }
            submitPolicy = policy
        case "store":
            if let path = Self.sqlitePath(value) {
                guard path.startsWithByte(UInt8(ascii: "/")) else { throw fail("a SQLite store is sqlite:///ABSOLUTE/PATH") }
            } else {
                // The syntax only: the password file is read when jobqd opens the store.
                do throws(PostgresStoreConfigurationError) {
                    _ = try PostgresStoreConfiguration(url: value, environment: [:], readFile: { _ in "" })
                } catch {
                    throw fail("\(error) (a store is sqlite:///PATH or postgresql://USER@HOST/DATABASE)")
                }
            }
            storeURL = value
        case "node":
            let allowed = { (byte: UInt8) in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || "-_.".utf8.contains(byte)
            }
            guard (1...63).contains(value.utf8.count), value.utf8.allSatisfy(allowed) else {
                throw fail("must be 1 to 63 letters, digits, '-', '_' or '.'")
            }
            node = value
        case "serve_queues":
            let names = value.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard !names.isEmpty, names.allSatisfy(JobSpec.isValidQueueName) else {
                throw fail("must be a comma-separated list of queue names")
            }
            serveQueues = Set(names)
        case "fairness": claimPolicy.fairness = try fairness()
        case "max_running_per_user": claimPolicy.maxRunningPerUser = try perUserCap()
        case "log_level":
            guard let level = Logger.Level(rawValue: value) else {
                throw fail("must be one of trace, debug, info, notice, warning, error, critical")
            }
            logLevel = level
        default:
            let parts = key.split(separator: ".", omittingEmptySubsequences: false)
            if parts.count == 3, parts[0] == "queue", parts[2] == "concurrency", !parts[1].isEmpty {
                guard let count = Int(value), (1...1024).contains(count) else { throw fail("must be a whole number from 1 to 1024") }
                queueConcurrency[String(parts[1])] = count
            } else if parts.count == 3, parts[0] == "queue", parts[2] == "fairness" || parts[2] == "max_running_per_user" {
                let queue = String(parts[1])
                guard JobSpec.isValidQueueName(queue) else { throw fail("'\(queue)' is not a queue name") }
                if parts[2] == "fairness" { queueFairness[queue] = try fairness() } else { queueMaxRunningPerUser[queue] = try perUserCap() }
            } else if parts.count == 4, parts[0] == "queue", !parts[1].isEmpty, parts[3] == "default" || parts[3] == "ceiling" {
                let queue = String(parts[1])
                guard queue == "*" || JobSpec.isValidQueueName(queue) else { throw fail("'\(queue)' is not a queue name (or *)") }
                var limits = queueLimits[queue] ?? QueueLimits()
                var which = parts[3] == "default" ? limits.defaults : limits.ceilings
                switch parts[2] {
                case "max_memory", "max_file_size":
                    guard let bytes = ResourceLimits.parseBytes(value) else { throw fail("must be a size: bytes, or with K, M, G or T") }
                    if parts[2] == "max_memory" { which.memoryBytes = bytes } else { which.fileSizeBytes = bytes }
                case "max_cpu":
                    guard let seconds = ResourceLimits.parseSeconds(value) else { throw fail("must be a CPU time: seconds, or with s, m or h") }
                    which.cpuSeconds = seconds
                case "max_files", "max_procs":
                    guard let count = Int64(value), count >= 1 else { throw fail("must be a whole number, 1 or more") }
                    if parts[2] == "max_files" { which.openFiles = count } else { which.processes = count }
                default:
                    throw fail("is not a limit: max_memory, max_cpu, max_files, max_procs or max_file_size")
                }
                if parts[3] == "default" { limits.defaults = which } else { limits.ceilings = which }
                queueLimits[queue] = limits
            } else {
                throw Problem(description: "\(source): unknown setting '\(key)'; known: "
                    + (Self.keys.map(\.key) + [
                        "queue.NAME.concurrency", "queue.NAME.fairness", "queue.NAME.max_running_per_user",
                        "queue.NAME.LIMIT.default", "queue.NAME.LIMIT.ceiling",
                    ])
                        .joined(separator: ", "))
            }
        }
    }

    /// Applies a config file: `key = value` lines, `#` comments, values optionally in double quotes.
    public mutating func apply(file path: String) throws(Problem) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw Problem(description: "cannot read the config file \(path): \(error.localizedDescription)")
        }
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let (rawKey, rawValue) = trimmed.splitAtFirstByte(UInt8(ascii: "=")) else {
                throw Problem(description: "\(path):\(number + 1): expected 'key = value', found '\(trimmed)'")
            }
            let key = rawKey.trimmingCharacters(in: .whitespaces)
            var value = rawValue.trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            try set(key, value, source: "\(path):\(number + 1)")
        }
    }

    /// Applies the `JOBQ_*` variables that are set.
    public mutating func apply(environment: [String: String]) throws(Problem) {
        for (key, variable) in Self.keys {
            if let value = environment[variable], !value.isEmpty { try set(key, value, source: variable) }
        }
    }

    /// The path of a `sqlite:` store URL (`sqlite:///var/lib/jobq/jobs.db`, `sqlite:/path`).
    static func sqlitePath(_ url: String) -> String? {
        guard url.hasPrefix("sqlite:") else { return nil }
        let rest = url.dropFirst("sqlite:".count)
        return rest.hasPrefix("//") ? String(rest.dropFirst(2)) : String(rest)
    }

    /// The PostgreSQL store's URL, when the jobs are kept in PostgreSQL.
    public var postgresURL: String? {
        guard let storeURL, Self.sqlitePath(storeURL) == nil else { return nil }
        return storeURL
    }

    /// The dashboard's settings, when it is on; refused on an address other machines can reach
    /// unless `web_allow_remote` says so (checked once every source has been applied).
    public func dashboard() throws(Problem) -> DashboardSettings? {
        guard let web else { return nil }
        if !web.isLocal && !webAllowRemote {
            throw Problem(description: "web = \(web) can be reached from other machines: use a loopback address (127.0.0.1:8377) "
                + "or a Unix socket behind a TLS proxy (docs/dashboard.md), or set web_allow_remote = true to serve it there anyway")
        }
        return DashboardSettings(address: web, publicURL: webURL)
    }

    /// The SQLite database file.
    public var databasePath: String { storeURL.flatMap(Self.sqlitePath) ?? stateDirectory + "/jobs.db" }
    /// Where job output goes.
    public var logDirectory: String { stateDirectory + "/logs" }
}
