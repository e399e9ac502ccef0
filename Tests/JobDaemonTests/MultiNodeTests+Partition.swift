import Foundation
import JobClient
import JobModel
import JobQueueTesting
import Testing

extension MultiNodeTests {
    @Test(
        "Nodes in network namespaces reach PostgreSQL over TCP; a node cut off loses its job to another, and back, stops its stale run",
        .enabled(if: NetworkLab.isAvailable, "needs root and iproute2"))
    func partitionedNode() async throws {
        let lab = try NetworkLab(nodes: ["a", "b"])
        defer { lab.remove() }
        try await PostgresCluster.Own.with(listen: ["a", "b"].map { lab.links[$0]!.hostAddress }) { cluster in
            try await partition(lab, cluster)
        }
    }

    private func partition(_ lab: NetworkLab, _ cluster: PostgresCluster.Own) async throws {
        var fixtures: [String: DaemonTests.Fixture] = [:]
        for name in ["a", "b"] {
            fixtures[name] = try DaemonTests.Fixture(
                node: name, storeURL: "postgresql://jobq@\(lab.links[name]!.hostAddress):5432/jobq?sslmode=disable")
        }
        let config = fixtures["a"]!.directory + "/nodes.conf"
        try "heartbeat_lapse_seconds = 1.5\n".write(toFile: config, atomically: true, encoding: .utf8)
        func start(_ name: String) async throws -> Process {
            let fixture = fixtures[name]!
            let daemon = try fixture.launch(NetworkLab.ip, [
                "netns", "exec", lab.links[name]!.namespace, DaemonTests.jobqdPath, "--state-dir", fixture.state,
                "--socket", fixture.socketPath, "--store", fixture.storeURL!, "--node", name, "--config", config,
            ], environment: ["JOBQ_LOG_LEVEL": "warning"])
            #expect(await fixture.awaitNotification("READY=1"), "node \(name) started in its namespace")
            return daemon
        }
        let client = { (name: String) in JobClient(socketPath: fixtures[name]!.socketPath) }
        let a = try await start("a")
        let started = try fixtures["a"]!.fifo("started")
        let cut = fixtures["a"]!.directory + "/cut"
        let spec = JobSpec(command: .shell("[ -e \(cut) ] && exit 0; echo $$ > \(started); exec sleep 300"))
        let id = try #require(try await client("a").submit([spec]).jobs.first?.id)
        let pid = try #require(await DaemonTests().lines(1, from: started).first.flatMap { Int32($0) })
        defer { kill(pid, SIGKILL) }
        #expect(FileManager.default.createFile(atPath: cut, contents: nil))
        let b = try await start("b")
        // Node a's link to the database goes down: its packets are dropped, nothing is reset.
        try lab.setLink(of: "a", up: false)
        let clock = ContinuousClock()
        let before = clock.now
        let waited = try await client("b").wait(for: [id])
        print("multi-node: the job of the node cut off ran again on another after \(clock.now - before)")
        #expect(waited.jobs.first?.state == .succeeded)
        try lab.setLink(of: "a", up: true)
        // Back, node a learns that it lapsed and stops the run it lost; it records nothing over it.
        #expect(await Self.ends(pid), "node a stopped its stale run")
        let job = try await client("a").job(id)
        #expect(job.state == .succeeded && job.runs == 2 && job.exitCode == 0, "\(job)")
        let history = try await client("b").runs(of: id)
        #expect(history.last?.node == "b" && history.last?.error == nil, "\(history)")
        // And it works on: a job submitted through it runs.
        let next = try #require(try await client("a").submit([JobSpec(command: .shell("true"))]).jobs.first?.id)
        #expect(try await client("a").wait(for: [next]).jobs.first?.state == .succeeded)
        for daemon in [a, b] {
            daemon.terminate()
            #expect(await DaemonTests().exit(of: daemon) == 0)
        }
    }
}
