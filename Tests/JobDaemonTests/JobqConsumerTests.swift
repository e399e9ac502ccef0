import CJobSpawn
import Foundation
import JobQueueTesting
import Testing

/// `jobq put` and `jobq work` against the real jobqd: payloads in, commands run by the
/// consumer, outcomes by exit status, a cancel heard at a heartbeat, SIGTERM's graceful stop.
@Suite("jobq put and work", .timeLimit(.minutes(2)))
struct JobqConsumerTests {
    typealias Jobq = JobqCommandTests

    /// Starts `jobq work` with its stdout and stderr on pipes.
    static func startWork(_ socket: String, _ arguments: [String]) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = URL(filePath: Jobq.jobqPath)
        process.arguments = ["--socket", socket, "work"] + arguments
        let (output, errors) = (Pipe(), Pipe())
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        return (process, output, errors)
    }

    /// Blocks (on a thread of its own) until `count` lines were written to the FIFO: readiness
    /// signals from jobs' commands (`echo go > FIFO`).
    static func signalled(_ fifo: String, count: Int = 1) async {
        await onOwnThread {
            var lines = 0
            while lines < count {
                let fd = open(fifo, O_RDONLY)
                var byte: UInt8 = 0
                while read(fd, &byte, 1) > 0 { if byte == UInt8(ascii: "\n") { lines += 1 } }
                close(fd)
            }
        }
    }

    @Test("put takes JSON from the argument, a file or stdin; work runs the command per job, by exit status; show and status tell")
    func putAndWork() async throws {
        try await Jobq.withDaemon { fixture, socket in
            let directory = fixture.directory
            let first = try await Jobq.jobq(socket, ["put", "mail", #"{"to":"ann"}"#]).stdout.trimmingCharacters(in: .newlines)
            try Data(#"{"to":"bob"}"#.utf8).write(to: URL(filePath: directory + "/payload.json"))
            let second = try await Jobq.jobq(socket, ["put", "mail", "@" + directory + "/payload.json"]).stdout.trimmingCharacters(in: .newlines)
            let third = try await Jobq.jobq(socket, ["put", "mail"], stdin: #""bad""#).stdout.trimmingCharacters(in: .newlines)
            #expect([first, second, third] == ["1", "2", "3"])
            let notJSON = try await Jobq.jobq(socket, ["put", "mail", "hello"])
            #expect(notJSON.status == 2 && notJSON.stderr.contains("the payload is not JSON"), "\(notJSON.stderr)")
            let command = try await Jobq.jobq(socket, ["submit", "-q", "mail", "--", "true"])
            #expect(command.status == 4 && command.stderr.contains("wrong_queue_kind"), "\(command.stderr)")
            let status = try await Jobq.jobq(socket, ["status"]).stdout
            #expect(status.contains("0 leased"), "\(status)")

            let script = #"x=$(cat); echo "$JOBQ_JOB_ID $JOBQ_QUEUE $JOBQ_ATTEMPT $JOBQ_LEASE_TOKEN $x"; [ "$x" != '"bad"' ]"#
            let work = try await Jobq.jobq(socket, ["work", "mail", "--max-jobs", "3", "--consumer", "test-consumer", "--", "sh", "-c", script])
            #expect(work.status == 0, "\(work.stderr)")
            let lines = Set(work.stdout.split(separator: "\n").map(String.init))
            #expect(lines == [#"1 mail 1 1.1 {"to":"ann"}"#, #"2 mail 1 2.1 {"to":"bob"}"#, #"3 mail 1 3.1 "bad""#], "\(work.stdout)")
            let shown = try await Jobq.jobq(socket, ["show", "1"]).stdout
            #expect(shown.contains(#"payload:"#) && shown.contains(#"{"to":"ann"}"#) && shown.contains("consumer:  test-consumer"), "\(shown)")
            let json = try await Jobq.jobq(socket, ["show", "3", "--json"]).stdout
            #expect(json.contains(#""state":"failed""#) && json.contains("the command exited with status 1") && json.contains(#""payload":"bad""#), "\(json)")
            let logs = try await Jobq.jobq(socket, ["logs", "1"])
            #expect(logs.status == 0 && logs.stdout.isEmpty && logs.stderr.contains("job 1 carries a payload"), "\(logs.stderr)")
        }
    }

    @Test("A cancel reaches the running command at the next heartbeat; SIGTERM lets the running jobs finish and complete them")
    func cancelAndStop() async throws {
        try await Jobq.withDaemon { fixture, socket in
            let directory = fixture.directory
            let fifo = directory + "/started"
            #expect(mkfifo(fifo, 0o600) == 0)
            let id = try await Jobq.jobq(socket, ["put", "slow", "1"]).stdout.trimmingCharacters(in: .newlines)
            // The command leaves a child of its own behind its `wait`: the stop must reach it too.
            let pidFile = directory + "/child"
            let command = "sleep 3600 & echo $! > \(pidFile); echo go > \(fifo); wait"
            let (process, _, errors) = try Self.startWork(socket, ["slow", "--lease", "3s", "--max-jobs", "1", "--", "sh", "-c", command])
            await Self.signalled(fifo)  // the command runs
            let leased = try await Jobq.jobq(socket, ["list", "-q", "slow"]).stdout
            #expect(leased.contains("[leased by ") && leased.contains("] 1"), "\(leased)")
            let child = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            let childExit = jobq_pidfd_open(child)  // readable once the child has exited
            #expect(childExit >= 0)
            try await Jobq.jobq(socket, ["cancel", id]).expectSuccess()
            let heard = await DaemonInterruptTests.line(containing: "was cancelled", from: errors)
            #expect(heard.contains("job \(id)") && heard.contains("its command was stopped"), "\(heard)")
            #expect(await DaemonTests().exit(of: process) == 0)
            let gone = await onOwnThread { () -> Int32 in
                var watch = pollfd(fd: childExit, events: Int16(POLLIN), revents: 0)
                return poll(&watch, 1, 30_000)
            }
            #expect(gone == 1, "the command's child outlived the stop")
            close(childExit)

            // SIGTERM while two commands run: no more leases; both finish and are completed.
            for n in 1...3 { _ = try await Jobq.jobq(socket, ["put", "batch", "\(n)"]) }
            // The commands wait for the test's lock on the gate file.
            let gate = directory + "/gate"
            let held = open(gate, O_CREAT | O_RDWR, 0o600)
            #expect(flock(held, LOCK_EX) == 0)
            let (worker, _, workErrors) = try Self.startWork(socket, ["batch", "-j", "2", "--", "sh", "-c", "echo go > \(fifo); flock -s \(gate) true"])
            await Self.signalled(fifo, count: 2)
            worker.interrupt()  // SIGINT, as Ctrl-C
            let stopping = await DaemonInterruptTests.line(containing: "leasing no more", from: workErrors)
            #expect(stopping.contains("interrupted"), "\(stopping)")
            close(held)  // both commands go on
            #expect(await DaemonTests().exit(of: worker) == 0)
            let listed = try await Jobq.jobq(socket, ["list", "-q", "batch", "--json"]).stdout
            #expect(listed.components(separatedBy: #""state":"succeeded""#).count == 3, "\(listed)")
            #expect(listed.components(separatedBy: #""state":"queued""#).count == 2, "\(listed)")
        }
    }
}
