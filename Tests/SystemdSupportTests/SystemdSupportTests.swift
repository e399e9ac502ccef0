import Foundation
import JobQueueTesting
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
}
