import Foundation
import JobModel
import JobQueueTesting
@testable import JobStorePostgres
import JobStoring
import Logging
import PostgresNIO
import Testing

/// Nodes that run as a role which may only read and write the tables, as docs/operations.md
/// ("Roles") sets one up: the grants are read from that page and run here as written. The
/// role is the cluster's (a temporary one), left in it.
@Suite("PostgreSQL store: a node's role", .postgresCluster, .timeLimit(.minutes(2)))
struct PostgresRolesTests {
    /// The SQL block after the `node-grants` marker of docs/operations.md.
    static func documentedGrants() throws -> String {
        let page = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appending(path: "docs/operations.md")
        let text = try String(contentsOf: page, encoding: .utf8)
        let marker = try #require(text.range(of: "<!-- node-grants"))
        let block = try #require(text[marker.upperBound...].range(of: "```sql\n"))
        let end = try #require(text[block.upperBound...].range(of: "```"))
        return String(text[block.upperBound..<end.lowerBound])
    }

    @Test("With the documented grants, a node's role runs jobs on a migrated database, and cannot migrate one")
    func leastPrivilege() async throws {
        let role = "jobq_node_\(UInt32.random(in: 0...UInt32.max))"
        try await withTestDatabase { owner in
            // The owner migrates; then the grants, as the page gives them, for this test's role
            // on this test's database.
            try await withStore(owner) { _ in }
            let grants = try Self.documentedGrants()
                .replacingOccurrences(of: "jobq_node", with: role)
                .replacingOccurrences(of: "DATABASE jobq", with: "DATABASE \(owner.database)")
            #expect(grants.contains("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES"))
            try await withConnection(owner) { connection in
                for statement in grants.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) })
                where !statement.isEmpty {
                    try await connection.run(PostgresQuery(unsafeSQL: statement), logger: Logger(label: "test"))
                }
            }
            var node = owner
            node.user = role
            try await withStore(node, node: "restricted") { store in
                let id = try #require(try await store.insert([JobSpec(command: .argv(["true"]))]).first?.job.id)
                let claimed = try await store.claim(queue: "default", limit: 1).jobs
                #expect(claimed.map(\.id) == [id])
                #expect(try await store.finish(id, .succeeded, run: claimed[0].runs).job.state == .succeeded)
                #expect(try await store.nodes()?.map(\.name).contains("restricted") == true)
            }
            // A database the owner has not migrated: the node's role may not create the tables.
            try await withTestDatabase { empty in
                var unmigrated = empty
                unmigrated.user = role
                try await withConnection(empty) { connection in
                    try await connection.run(
                        PostgresQuery(unsafeSQL: "GRANT CONNECT ON DATABASE \(empty.database) TO \(role)"), logger: Logger(label: "test"))
                }
                await #expect(throws: JobStoreError.self) {
                    try await withStore(unmigrated) { _ in }
                }
            }
        }
    }
}
