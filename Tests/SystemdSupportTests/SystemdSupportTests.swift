import Foundation
import JobBasics
import JobQueueTesting
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import SystemdSupport
import Testing

@Suite("systemd support", .timeLimit(.minutes(1)))
struct SystemdSupportTests {
    @Test("The environment: notify socket, watchdog, socket activation, only when meant for us")
    func environment() {
        let ours = SystemdEnvironment(environment: [
            "NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42",
            "LISTEN_PID": "42", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "control:",
            "STATE_DIRECTORY": "/var/lib/jobq:/var/lib/other", "RUNTIME_DIRECTORY": "/run/jobq",
        ], pid: 42)
        #expect(ours.notifySocket == "/run/systemd/notify")
        #expect(ours.watchdogInterval == .seconds(30))
        #expect(ours.listenFDs == [.init(fd: 3, name: "control"), .init(fd: 4, name: nil)])
        #expect(ours.listenFD(named: "control") == 3)
        #expect(ours.listenFD(named: "other") == 3)
        #expect(ours.stateDirectory == "/var/lib/jobq")
        #expect(ours.runtimeDirectory == "/run/jobq")

        let theirs = SystemdEnvironment(environment: [
            "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7", "LISTEN_PID": "7", "LISTEN_FDS": "1",
        ], pid: 42)
        #expect(theirs.watchdogInterval == nil)
        #expect(theirs.listenFDs.isEmpty)

        let malformed = SystemdEnvironment(environment: [
            "NOTIFY_SOCKET": "vsock:2:1234", "WATCHDOG_USEC": "soon", "LISTEN_PID": "42", "LISTEN_FDS": "-1",
        ], pid: 42)
        #expect(malformed.notifySocket == nil)
        #expect(malformed.watchdogInterval == nil)
        #expect(malformed.listenFDs.isEmpty)
        #expect(SystemdEnvironment(environment: [:], pid: 1) == SystemdEnvironment(environment: ["NOTIFY_SOCKET": ""], pid: 1))
    }

    @Test("Notifications reach a path socket and an abstract one, fields in one datagram", arguments: [false, true])
    func notify(abstract: Bool) async throws {
        let listener = try NotifyListener(abstract: abstract)
        let notifier = SystemdNotifier(address: listener.address)
        #expect(try notifier.notify([.ready, .status("2 running,\n14 queued"), .mainPID(99)]))
        #expect(await listener.receive() == "READY=1\nSTATUS=2 running, 14 queued\nMAINPID=99\n")
        try notifier.notify([.extendTimeout(.milliseconds(1500)), .watchdog])
        #expect(await listener.receive() == "EXTEND_TIMEOUT_USEC=1500000\nWATCHDOG=1\n")
    }

    @Test("Without NOTIFY_SOCKET nothing is sent; a socket nobody listens on is an error with errno")
    func disabledAndFailing() throws {
        #expect(try SystemdNotifier(address: nil).notify([.ready]) == false)
        #expect(throws: SystemdNotifyError.self) {
            try SystemdNotifier(address: NSTemporaryDirectory() + "/no-such-jobq-socket").notify([.ready])
        }
    }

    @Test("A receiver that stopped reading makes a notification fail at once (EAGAIN), never wait", .timeLimit(.minutes(1)))
    func fullReceiver() throws {
        // The listener never reads: its queue fills (net.unix.max_dgram_qlen, 10 by default)
        // and a blocking sendto would wait forever (a daemon stuck there could not stop).
        let listener = try NotifyListener(abstract: false)
        let notifier = SystemdNotifier(address: listener.address)
        var refused: SystemdNotifyError?
        for _ in 0..<1000 where refused == nil {
            do { try notifier.notify([.status("filling the queue")]) } catch { refused = error }
        }
        let error = try #require(refused)
        #expect(error.errno == EAGAIN)
    }

    @Test("The service: READY=1 only once ready, watchdog pings while healthy, STOPPING=1 at shutdown")
    func service() async throws {
        let listener = try NotifyListener()
        let (ready, readySink) = AsyncStream<Void>.makeStream()
        let service = SystemdNotifyService(
            notifier: SystemdNotifier(address: listener.address),
            watchdogInterval: .milliseconds(20),
            waitUntilReady: { for await _ in ready { return } },
            status: { "1 running, 0 queued" },
            isHealthy: { true })
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await service.run() }
                readySink.yield()
                #expect(await listener.receive() == "READY=1\nSTATUS=1 running, 0 queued\nMAINPID=\(getpid())\n")
                #expect(await listener.receive() == "STATUS=1 running, 0 queued\nWATCHDOG=1\n")
                trigger.triggerGracefulShutdown()
                var last = await listener.receive()
                while last.hasPrefix("STATUS=") { last = await listener.receive() }  // a tick racing the trigger
                #expect(last == "STOPPING=1\nSTATUS=stopping: draining running jobs\n")
                try await group.waitForAll()
            }
        }
    }

    @Test("No watchdog ping while the health check fails; the status line still goes out")
    func unhealthy() async throws {
        let listener = try NotifyListener()
        let service = SystemdNotifyService(
            notifier: SystemdNotifier(address: listener.address),
            watchdogInterval: .milliseconds(20),
            waitUntilReady: {},
            status: { "store unavailable" },
            isHealthy: { false })
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await service.run() }
                #expect(await listener.receive().hasPrefix("READY=1\n"))
                #expect(await listener.receive() == "STATUS=store unavailable\n")
                #expect(await listener.receive() == "STATUS=store unavailable\n")
                trigger.triggerGracefulShutdown()
                var last = await listener.receive()
                while last.hasPrefix("STATUS=") { last = await listener.receive() }
                #expect(last.hasPrefix("STOPPING=1\n"))
                try await group.waitForAll()
            }
        }
    }

    @Test("While notifications fail: one warning, then debug messages; the first one through again says how many were lost")
    func outage() async throws {
        try await withTemporaryDirectory("jobq-notify-outage") { directory in
            // Nobody listens at the path at first: every notification fails (ENOENT).
            let path = directory + "/notify.sock"
            let logs = LogRecorder()
            let service = SystemdNotifyService(
                notifier: SystemdNotifier(address: path),
                watchdogInterval: nil,
                statusInterval: .milliseconds(5),
                waitUntilReady: {},
                status: { "idle" },
                isHealthy: { true },
                logger: Logger(label: "test") { _ in RecordingLogHandler(recorder: logs) })
            try await testGracefulShutdown { trigger in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await service.run() }
                    await logs.wait { $0.count >= 4 }  // READY=1 and three status lines lost
                    let listener = try NotifyListener(path: path)
                    #expect(await listener.receive() == "STATUS=idle\n")
                    await logs.wait { $0.contains { $0.message == "notifying systemd again" } }
                    trigger.triggerGracefulShutdown()
                    try await group.waitForAll()
                    withExtendedLifetime(listener) {}
                }
            }
            let records = logs.records
            let failures = records.filter { $0.message.hasPrefix("cannot notify systemd") }
            #expect(failures.count >= 4)
            #expect(failures.first?.level == .warning)
            #expect(failures.dropFirst().allSatisfy { $0.level == .debug })
            let again = try #require(records.first { $0.message == "notifying systemd again" })
            #expect(again.level == .notice)
            #expect(again.metadata["failed_notifications"] == .string("\(failures.count)"))
            #expect(failures.allSatisfy { $0.index < again.index })
        }
    }
}

/// Log records, with a way to wait until they satisfy a condition (or the waiting task is
/// cancelled, as at the suite's time limit: a test whose records never come fails, not hangs).
final class LogRecorder: Sendable {
    struct Record: Sendable {
        let index: Int
        let level: Logger.Level
        let message: String
        let metadata: Logger.Metadata
    }

    private struct State {
        var records: [Record] = []
        var waiters: [Int: (condition: @Sendable ([Record]) -> Bool, continuation: CheckedContinuation<Void, Never>)] = [:]
        var nextWaiter = 0
    }

    private let state = Locked(State())

    var records: [Record] { state.withLock { $0.records } }

    func append(level: Logger.Level, message: String, metadata: Logger.Metadata) {
        let ready: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.records.append(Record(index: state.records.count, level: level, message: message, metadata: metadata))
            let records = state.records
            let satisfied = state.waiters.filter { $0.value.condition(records) }
            for key in satisfied.keys { state.waiters[key] = nil }
            return satisfied.values.map(\.continuation)
        }
        for continuation in ready { continuation.resume() }
    }

    func wait(until condition: @escaping @Sendable ([Record]) -> Bool) async {
        let key = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state in
                    // Checked under the lock that onCancel takes: a cancellation either finds
                    // the waiter registered or is seen here.
                    if condition(state.records) || Task.isCancelled { return true }
                    state.waiters[key] = (condition, continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: key) }
            waiter?.continuation.resume()
        }
    }
}

struct RecordingLogHandler: LogHandler {
    let recorder: LogRecorder
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        recorder.append(level: event.level, message: event.message.description,
                        metadata: metadata.merging(event.metadata ?? [:]) { $1 })
    }
}
