import Foundation
@testable import JobDaemon
import JobEngine
import JobModel
import JobStore
import JobStoring
import Logging
import Synchronization
import Testing

@Suite("jobqd configuration")
struct ConfigurationTests {
    @Test("Defaults: root, a user with XDG_STATE_HOME, a user without, systemd's STATE_DIRECTORY")
    func defaults() {
        #expect(DaemonConfiguration.defaults(environment: [:], uid: 0).stateDirectory == "/var/lib/jobq")
        #expect(DaemonConfiguration.defaults(environment: ["XDG_STATE_HOME": "/home/u/.state", "HOME": "/home/u"], uid: 1000)
            .stateDirectory == "/home/u/.state/jobq")
        #expect(DaemonConfiguration.defaults(environment: ["HOME": "/home/u"], uid: 1000).stateDirectory == "/home/u/.local/state/jobq")
        #expect(DaemonConfiguration.defaults(environment: ["STATE_DIRECTORY": "/var/lib/jobq:/x"], uid: 0).stateDirectory == "/var/lib/jobq")
        let defaults = DaemonConfiguration.defaults(environment: [:], uid: 0)
        #expect(defaults.socketPath == "/run/jobq/jobq.sock")
        #expect(DaemonConfiguration.defaults(environment: ["XDG_RUNTIME_DIR": "/run/user/1000", "HOME": "/home/u"], uid: 1000)
            .socketPath == "/run/user/1000/jobq/jobq.sock")
        #expect(DaemonConfiguration.defaults(environment: ["RUNTIME_DIRECTORY": "/run/jobq"], uid: 0).socketPath == "/run/jobq/jobq.sock")
        #expect(DaemonConfiguration.defaults(environment: ["HOME": "/home/u"], uid: 1000).socketPath == "/home/u/.local/state/jobq/jobq.sock")
        #expect(defaults.workers == 2)
        #expect(defaults.durability == .full)
        #expect(defaults.drainGrace == .seconds(10))
    }

    @Test("The file, then the environment, then the flags: each overrides the one before")
    func precedence() throws {
        let file = NSTemporaryDirectory() + "/jobqd-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).conf"
        try """
            # jobqd settings
            state_dir = "/srv/jobq"
            workers = 3          # three at a time
            durability = normal
            queue.builds.concurrency = 1
            queue.builds.max_memory.ceiling = 8G
            queue.builds.max_cpu.default = 10m
            queue.*.max_files.default = 1024
            queue.*.max_procs.ceiling = 256
            queue.*.max_file_size.ceiling = 1G
            drain_grace_seconds = 2.5
            """.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        var configuration = DaemonConfiguration.defaults(environment: [:], uid: 0)
        try configuration.apply(file: file)
        #expect(configuration.stateDirectory == "/srv/jobq")
        #expect(configuration.workers == 3)
        #expect(configuration.durability == .normal)
        #expect(configuration.queueConcurrency == ["builds": 1])
        #expect(configuration.queueLimits == [
            "builds": QueueLimits(defaults: ResourceLimits(cpuSeconds: 600), ceilings: ResourceLimits(memoryBytes: 8 << 30)),
            "*": QueueLimits(defaults: ResourceLimits(openFiles: 1024), ceilings: ResourceLimits(processes: 256, fileSizeBytes: 1 << 30)),
        ])
        #expect(configuration.drainGrace == .milliseconds(2500))
        #expect(!configuration.runAsSubmitter && !configuration.allowRootJobs)
        try configuration.apply(environment: ["JOBQ_WORKERS": "5", "JOBQ_LOG_LEVEL": "debug", "UNRELATED": "x",
                                              "JOBQ_RUN_AS": "submitter", "JOBQ_ALLOW_ROOT_JOBS": "true"])
        #expect(configuration.runAsSubmitter && configuration.allowRootJobs)
        try configuration.set("allow_submit", "ann, @root", source: "f:2")
        try configuration.set("deny_submit", "bob", source: "f:3")
        #expect(configuration.submitPolicy == SubmitPolicy(allowed: [.user("ann"), .group(0)], denied: [.user("bob")]))
        try configuration.set("admin_group", "root", source: "f:4")
        #expect(configuration.adminGroup == 0)
        try configuration.set("admin_group", "27", source: "f:5")
        #expect(configuration.adminGroup == 27)
        #expect(configuration.workers == 5)
        #expect(configuration.logLevel == .debug)
        try configuration.set("workers", "7", source: "--workers")
        #expect(configuration.workers == 7)
        #expect(configuration.maxBodyBytes == 1 << 20)
        try configuration.apply(environment: ["JOBQ_MAX_BODY_BYTES": "4194304"])
        #expect(configuration.maxBodyBytes == 4 << 20)
        #expect(configuration.databasePath == "/srv/jobq/jobs.db")
    }

    @Test("Run-as-submitter without root: the capabilities missing from CapEff are named")
    func capabilities() {
        let all = "Name:\tjobqd\nCapEff:\t00000000000000e0\n"
        #expect(DaemonCapabilities.missing(status: all).isEmpty)
        #expect(DaemonCapabilities.missing(status: "CapEff:\t0000000000000040\n") == ["CAP_SETUID", "CAP_KILL"])
        #expect(DaemonCapabilities.missing(status: "CapEff:\t0000000000000000\n") == ["CAP_SETUID", "CAP_SETGID", "CAP_KILL"])
        #expect(DaemonCapabilities.missing(status: "") == ["CAP_SETUID", "CAP_SETGID", "CAP_KILL"])
    }

    @Test("Fair share: round-robin by default; a queue's own settings fill in from the global ones")
    func claimPolicies() throws {
        var configuration = DaemonConfiguration.defaults(environment: [:], uid: 0)
        #expect(configuration.claimPolicy == ClaimPolicy(fairness: .roundRobin))
        #expect(configuration.claimPolicies.isEmpty)
        try configuration.apply(environment: ["JOBQ_FAIRNESS": "fifo", "JOBQ_MAX_RUNNING_PER_USER": "4"])
        try configuration.set("queue.builds.fairness", "round_robin", source: "f:1")
        try configuration.set("queue.tests.max_running_per_user", "1", source: "f:2")
        #expect(configuration.claimPolicy == ClaimPolicy(fairness: .fifo, maxRunningPerUser: 4))
        #expect(configuration.claimPolicies == [
            "builds": ClaimPolicy(fairness: .roundRobin, maxRunningPerUser: 4),
            "tests": ClaimPolicy(fairness: .fifo, maxRunningPerUser: 1),
        ])
    }

    @Test("Bad values and unknown keys are refused, naming the source and the rule")
    func problems() throws {
        var configuration = DaemonConfiguration.defaults(environment: [:], uid: 0)
        let before = configuration
        #expect(throws: DaemonConfiguration.Problem(description: "--workers: workers = 0: must be a whole number from 1 to 1024")) {
            try configuration.set("workers", "0", source: "--workers")
        }
        #expect(throws: DaemonConfiguration.Problem.self) { try configuration.set("state_dir", "relative", source: "JOBQ_STATE_DIR") }
        #expect(throws: DaemonConfiguration.Problem.self) { try configuration.set("durability", "sometimes", source: "f:1") }
        #expect(throws: DaemonConfiguration.Problem.self) { try configuration.set("log_level", "loud", source: "f:1") }
        #expect(throws: DaemonConfiguration.Problem.self) { try configuration.apply(environment: ["JOBQ_DRAIN_GRACE_SECONDS": "-1"]) }
        #expect(throws: DaemonConfiguration.Problem(description: "f:1: max_body_bytes = 1000: must be a whole number of bytes from 4096 to 268435456 (256 MiB)")) {
            try configuration.set("max_body_bytes", "1000", source: "f:1")
        }
        #expect(throws: DaemonConfiguration.Problem.self) { try configuration.apply(environment: ["JOBQ_MAX_BODY_BYTES": "1GiB"]) }
        #expect(throws: DaemonConfiguration.Problem(description: "f:1: queue.builds.max_memory.ceiling = lots: must be a size: bytes, or with K, M, G or T")) {
            try configuration.set("queue.builds.max_memory.ceiling", "lots", source: "f:1")
        }
        #expect(throws: DaemonConfiguration.Problem.self) { try configuration.set("queue.builds.max_cpu.default", "0", source: "f:1") }
        #expect(throws: DaemonConfiguration.Problem.self) { try configuration.set("queue.builds.max_speed.default", "1", source: "f:1") }
        #expect(throws: DaemonConfiguration.Problem.self) { try configuration.set("queue.-x.max_files.default", "1", source: "f:1") }
        #expect(throws: DaemonConfiguration.Problem(description: "--run-as: run_as = everyone: must be daemon or submitter")) {
            try configuration.set("run_as", "everyone", source: "--run-as")
        }
        #expect(throws: DaemonConfiguration.Problem.self) { try configuration.apply(environment: ["JOBQ_ALLOW_ROOT_JOBS": "maybe"]) }
        #expect(throws: DaemonConfiguration.Problem(description: "f:1: allow_submit = ann @no-such-group-here: no group 'no-such-group-here' on this machine")) {
            try configuration.set("allow_submit", "ann @no-such-group-here", source: "f:1")
        }
        #expect(throws: DaemonConfiguration.Problem(description: "f:1: fairness = fair: must be round_robin or fifo")) {
            try configuration.set("fairness", "fair", source: "f:1")
        }
        #expect(throws: DaemonConfiguration.Problem.self) { try configuration.apply(environment: ["JOBQ_MAX_RUNNING_PER_USER": "0"]) }
        #expect(throws: DaemonConfiguration.Problem.self) { try configuration.set("queue.-x.fairness", "fifo", source: "f:1") }
        #expect(configuration == before)
        let file = NSTemporaryDirectory() + "/jobqd-bad-\(getpid()).conf"
        try "workers = 2\nwrokers = 3\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        do {
            try configuration.apply(file: file)
            Issue.record("a misspelt key was accepted")
        } catch {
            #expect(error.description.hasPrefix("\(file):2: unknown setting 'wrokers'"))
        }
        #expect(throws: DaemonConfiguration.Problem.self) { try configuration.apply(file: "/nonexistent/jobqd.conf") }
    }
    @Test("The store: SQLite in the state directory by default, another file, or a PostgreSQL URL checked for syntax")
    func store() throws {
        var configuration = DaemonConfiguration.defaults(environment: [:], uid: 0)
        try configuration.set("state_dir", "/srv/jobq", source: "f:1")
        #expect(configuration.databasePath == "/srv/jobq/jobs.db" && configuration.postgresURL == nil)
        try configuration.set("store", "sqlite:///data/jobs.db", source: "f:2")
        #expect(configuration.databasePath == "/data/jobs.db" && configuration.postgresURL == nil)
        try configuration.apply(environment: ["JOBQ_STORE": "postgresql://jobq@db.internal/jobq?password_file=/etc/jobq/pw",
                                              "JOBQ_NODE": "build-7"])
        #expect(configuration.postgresURL == "postgresql://jobq@db.internal/jobq?password_file=/etc/jobq/pw")
        #expect(configuration.node == "build-7")
        for (value, reason) in [
            ("postgresql://jobq:secret@db/jobq", "carries a password"),
            ("sqlite://relative/jobs.db", "sqlite:///ABSOLUTE/PATH"),
            ("mysql://db/jobq", "is not a postgresql:// URL"),
        ] {
            #expect {
                try configuration.set("store", value, source: "--store")
            } throws: { error in
                "\(error)".hasPrefix("--store: store = \(value): ") && "\(error)".contains(reason)
            }
        }
        #expect(throws: DaemonConfiguration.Problem.self) { try configuration.set("node", "no spaces", source: "--node") }
        #expect(throws: DaemonConfiguration.Problem.self) { try configuration.set("node", "", source: "--node") }
        #expect(configuration.node == "build-7")
        #expect(configuration.heartbeatLapse == .seconds(30))
        try configuration.set("heartbeat_lapse_seconds", "4.5", source: "f:3")
        #expect(configuration.heartbeatLapse == .milliseconds(4500))
        #expect(throws: DaemonConfiguration.Problem.self) { try configuration.set("heartbeat_lapse_seconds", "0.5", source: "f:4") }
        #expect(configuration.serveQueues == nil)
        try configuration.apply(environment: ["JOBQ_SERVE_QUEUES": "gpu, cuda-12"])
        #expect(configuration.serveQueues == ["gpu", "cuda-12"])
        for bad in ["", ",", "gpu,,cpu", "two words"] {
            #expect {
                try configuration.set("serve_queues", bad, source: "--serve-queues")
            } throws: { error in
                "\(error)".hasPrefix("--serve-queues: serve_queues = \(bad): must be a comma-separated list of queue names")
            }
        }
        #expect(configuration.serveQueues == ["gpu", "cuda-12"])
    }

}

@Suite("jobqd logs")
struct LogFormatTests {
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
    }

    @Test("In the journal: a syslog priority prefix, no timestamp; in a terminal: time and level; metadata sorted")
    func formats() {
        let captured = Lines()
        var journal = Logger(label: "jobqd") { label in
            JournalLogHandler(label: label, level: .info, journal: true, write: { line in captured.lines.withLock { $0.append(line) } })
        }
        journal[metadataKey: "queue"] = "default"
        journal.warning("job failed\nbadly", metadata: ["job": "42"])
        journal.debug("not shown at info")
        var terminal = Logger(label: "jobqd") { label in
            JournalLogHandler(label: label, level: .debug, journal: false,
                              write: { line in captured.lines.withLock { $0.append(line) } },
                              now: { Date(timeIntervalSince1970: 1_795_658_400) })
        }
        terminal.logLevel = .debug
        terminal.error("store closed")
        #expect(captured.lines.withLock { $0 } == [
            "<4>jobqd: job failed badly job=42 queue=default\n",
            "2026-11-26T02:00:00Z error jobqd: store closed\n",
        ])
    }

}
