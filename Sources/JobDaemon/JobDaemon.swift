import AsyncQueues
import Foundation
import JobAPI
import JobDashboard
import JobEngine
import JobModel
import JobRunner
import JobStore
import JobStorePostgres
import JobStoring
import Logging
import ServiceLifecycle
import Synchronization
import SystemdSupport
import UnixSignals

/// Why `jobqd` stopped before or instead of running: one sentence, and the exit status.
public struct DaemonError: Error, CustomStringConvertible {
    public var description: String
    /// 78 (EX_CONFIG) for configuration, 75 (EX_TEMPFAIL) when another daemon holds the state
    /// directory, 74 (EX_IOERR) for the database, 1 otherwise.
    public var exitCode: Int32
}

/// The composition root: the state directory and its lock, the store, the engine, the API on
/// the Unix socket and the systemd notifier, run as one `ServiceGroup` whose order is the
/// shutdown order (the notifier, last, hears of SIGTERM first and says STOPPING=1; then the API
/// stops accepting; then the engine drains; then the store closes).
public enum JobDaemon {
    public static func run(
        _ configuration: DaemonConfiguration,
        environment: [String: String],
        logger: Logger
    ) async throws(DaemonError) {
        try DaemonCapabilities.check(runAsSubmitter: configuration.runAsSubmitter)
        let dashboard: DashboardSettings?
        do {
            dashboard = try configuration.dashboard()
        } catch {
            throw DaemonError(description: error.description, exitCode: 78)
        }
        if case .unix(let path)? = dashboard?.address {
            do {
                try SocketFile.prepare(path)
            } catch {
                throw DaemonError(description: "the dashboard's socket: \(error.description)", exitCode: 75)
            }
        }
        let state = configuration.stateDirectory
        let systemd = SystemdEnvironment(environment: environment, pid: getpid())
        // A socket systemd passed (jobqd.socket) is served as it is; else bind our own. Checked
        // first: a daemon started on a socket another one answers on touches no state.
        let activated = systemd.listenFD(named: "jobq") ?? systemd.listenFDs.first?.fd
        let listener: APIListener
        if let activated {
            listener = .descriptor(activated, path: configuration.socketPath)
        } else {
            do {
                try SocketFile.prepare(configuration.socketPath)
            } catch {
                throw DaemonError(description: error.description, exitCode: 75)
            }
            listener = .path(configuration.socketPath)
        }
        for directory in [state, configuration.logDirectory] {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw DaemonError(description: "cannot create \(directory): \(error.localizedDescription)", exitCode: 73)
            }
        }
        let lock = try StateDirectoryLock(directory: state)
        defer { lock.release() }

        let opened = try await openStore(configuration, environment: environment, logger: logger)
        let store = opened.store
        let executor = ProcessJobExecutor(
            configuration: ProcessExecutorConfiguration(
                logDirectory: configuration.logDirectory, workingDirectory: state,
                outputLimit: configuration.outputLimit, killGrace: configuration.killGrace,
                environment: ProcessExecutorConfiguration.jobEnvironment(from: environment),
                stateDirectory: state, runAsSubmitter: configuration.runAsSubmitter, allowRootJobs: configuration.allowRootJobs,
                // On a shared store, runs' output goes to the database too, for every node to read.
                outputMirror: opened.postgres.map { postgres in
                    OutputMirror { job, run, stream, bytes in postgres.appendOutput(job: job, run: run, stream: stream.rawValue, bytes) }
                }),
            launcher: ProcessLauncher(),
            logger: logger)
        let engine = JobEngine(
            store: store, executor: executor,
            configuration: EngineConfiguration(
                defaultConcurrency: configuration.workers, concurrency: configuration.queueConcurrency,
                maxRunning: configuration.maxRunning, drainGrace: configuration.drainGrace,
                queueLimits: configuration.queueLimits,
                refuseRootJobs: configuration.runAsSubmitter && !configuration.allowRootJobs,
                submitPolicy: configuration.submitPolicy,
                defaultClaimPolicy: configuration.claimPolicy, claimPolicies: configuration.claimPolicies,
                servedQueues: configuration.serveQueues),
            logger: logger)
        // What the other nodes of a shared store did, and the news that this node lost its runs
        // to them, reach the engine.
        opened.postgres?.reportHeldRuns { engine.heldRuns() }
        opened.postgres?.observe { event in
            switch event {
            case let .workMayHaveArrived(commands, payloads): engine.workMayHaveArrived(commands: commands, payloads: payloads)
            case .finishedElsewhere(let ids): engine.jobsFinishedElsewhere(ids)
            case let .pausedElsewhere(queue, paused): engine.queuePausedElsewhere(queue, paused)
            case let .workersChangedElsewhere(queue, count): engine.concurrencyChangedElsewhere(queue, count)
            case let .queueSettings(paused, workers): engine.queueSettingsAre(paused: paused, workers: workers)
            case .looked: engine.lookAgainForWaits()
            case .lostRuns: engine.stopLostRuns()
            }
        }
        let socketGroup: gid_t?
        do {
            socketGroup = try configuration.socketGroup.map(SocketFile.groupID)
        } catch {
            await store.close()
            throw DaemonError(description: error.description, exitCode: 78)
        }
        SocketFile.raiseDescriptorLimit()
        let listening = AsyncQueue<Void>(maxsize: 1)
        let socketPath = configuration.socketPath
        let sessions = dashboard.map { _ in DashboardSessions() }
        var environment = JobAPI.Environment(
            engine: engine, store: store, logDirectory: configuration.logDirectory,
            limits: APILimits(maxBodyBytes: configuration.maxBodyBytes, maxConnections: configuration.maxConnections))
        environment.ownJobsOnly = configuration.runAsSubmitter
        environment.adminGroup = configuration.adminGroup
        environment.storedOutput = opened.postgres
        environment.dashboard = sessions
        // The dashboard asks the same API as its signed-in users, in process.
        var web: [any Service] = []
        if let dashboard, let sessions { web.append(Dashboard.service(dashboard, api: environment, sessions: sessions, logger: logger)) }
        let api = JobAPI.service(
            environment,
            listener: listener,
            onListening: {
                if activated == nil { try SocketFile.setOwnership(socketPath, group: socketGroup) }
                logger.info("API listening", metadata: ["socket": "\(socketPath)", "activated": "\(activated != nil)"])
                try? await listening.putNowait(())
            },
            logger: logger)
        let notify = SystemdNotifyService(
            notifier: SystemdNotifier(address: systemd.notifySocket),
            watchdogInterval: systemd.watchdogInterval,
            // READY=1 once jobs are recovered and the socket accepts connections.
            waitUntilReady: {
                try await engine.untilStarted()
                try await listening.get()
            },
            status: { await engine.statusLine() },
            isHealthy: { await engine.isHealthy() },
            logger: logger)
        logger.info("jobqd starting", metadata: [
            "state_dir": "\(state)", "socket": "\(configuration.socketPath)", "workers": "\(configuration.workers)",
            "durability": "\(configuration.durability.rawValue)", "pid": "\(getpid())",
        ])
        // Shutdown runs in reverse: STOPPING=1, then the API stops accepting, then the engine drains.
        let made = Mutex<ServiceGroup?>(nil)
        let interrupts = InterruptWatch(
            engine: engine, grace: configuration.drainGrace,
            shutDown: { await made.withLock { $0 }?.triggerGracefulShutdown() }, logger: logger)
        // A PostgreSQL store runs its pool and its own work as services: started with the others,
        // stopped after the engine has drained, the pool last (services stop in reverse order).
        let services: [any Service] = [interrupts] + opened.services + [engine, api] + web + [notify]
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm], logger: logger)
        made.withLock { $0 = group }
        do {
            try await group.run()
        } catch {
            if activated == nil { unlink(configuration.socketPath) }
            if case .unix(let path)? = dashboard?.address { unlink(path) }
            await store.close()
            // The store's errors (a database locked past the busy timeout at start-up, a disk
            // that fails) are the database's: 74, as when it cannot be opened.
            throw DaemonError(description: "stopped on an error: \(error)", exitCode: error is JobStoreError ? 74 : 1)
        }
        if activated == nil { unlink(configuration.socketPath) }
        if case .unix(let path)? = dashboard?.address { unlink(path) }
        await store.close()
        logger.info("jobqd stopped")
    }
}

/// An exclusive `flock` on `<state>/jobqd.lock`, so that two daemons never share a state
/// directory. The file holds the owner's pid, for the second daemon's message. The kernel drops
/// the lock when the process dies, however it dies.
struct StateDirectoryLock {
    private let fd: Int32

    init(directory: String) throws(DaemonError) {
        let path = directory + "/jobqd.lock"
        fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw DaemonError(description: "cannot open \(path): \(String(cString: strerror(errno)))", exitCode: 73)
        }
        guard Self.lock(fd) == 0 else {
            let code = errno
            let owner = Self.owner(fd)
            close(fd)
            if code == EWOULDBLOCK {
                throw DaemonError(
                    description: "another jobqd\(owner.isEmpty ? "" : " (pid \(owner))") is already using \(directory); "
                        + "stop it first, or give this one another --state-dir",
                    exitCode: 75)
            }
            throw DaemonError(description: "cannot lock \(path): \(String(cString: strerror(code)))", exitCode: 73)
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }

    /// The pid the lock file names, as written.
    private static func owner(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return String(decoding: buffer.prefix(max(0, count)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `flock(LOCK_EX | LOCK_NB)`, except when the owner named in the file is dead: then the
    /// lock is held by one of its children caught between fork and exec when it was killed
    /// (the descriptor is close-on-exec, so the exec releases it within moments; the crash loop
    /// of scripts/reliability met it once in a few hundred kills). That case is retried for up
    /// to 10 s (a loaded machine may take seconds to run the exec), 10 ms apart; a live owner is
    /// another daemon, refused at once.
    private static func lock(_ fd: Int32) -> Int32 {
        var tries = 0
        while true {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return 0 }
            let code = errno
            guard code == EWOULDBLOCK, tries < 1000, let pid = pid_t(owner(fd)), pid > 0,
                  kill(pid, 0) == -1, errno == ESRCH else {
                errno = code
                return -1
            }
            tries += 1
            usleep(10_000)
        }
    }
}
