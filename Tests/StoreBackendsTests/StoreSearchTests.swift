import JobModel
import JobQueueTesting
import JobStoring
import Testing

/// The listing's search and dependents filters, the same on every backend.
@Suite("Store backends: finding jobs", .postgresCluster, .timeLimit(.minutes(2)))
struct StoreSearchTests {
    @Test("commandContains finds text in the joined arguments or the shell line, ignoring case; with other filters and pages",
          arguments: StoreBackend.allCases)
    func commandSearch(backend: StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            let backup = try await store.add(JobSpec(command: .argv(["rsync", "-a", "/srv/Data", "backup:/srv"])))
            let shell = try await store.add(JobSpec(command: .shell("pg_dump db | gzip > /backup/db.gz")))
            _ = try await store.add(JobSpec(command: .argv(["make", "test"])))
            _ = try await store.add(JobSpec(command: .payload(.string("backup")), queue: "mail"))
            let found = { (text: String, filter: JobFilter) in
                var filter = filter
                filter.commandContains = text
                return try await store.jobs(matching: filter, after: nil, limit: 10, order: .descending).jobs.map(\.id)
            }
            #expect(try await found("BACKUP", JobFilter()) == [shell.id, backup.id])
            #expect(try await found("-a /srv/data", JobFilter()) == [backup.id], "arguments joined by spaces")
            #expect(try await found("| gzip", JobFilter()) == [shell.id])
            #expect(try await found("backup", JobFilter(states: [.running])).isEmpty)
            #expect(try await found("nothing like it", JobFilter()).isEmpty)
            var filter = JobFilter()
            filter.commandContains = "backup"
            let first = try await store.jobs(matching: filter, after: nil, limit: 1, order: .descending)
            #expect(first.jobs.map(\.id) == [shell.id] && first.nextCursor == shell.id)
            let second = try await store.jobs(matching: filter, after: first.nextCursor, limit: 1, order: .descending)
            #expect(second.jobs.map(\.id) == [backup.id] && second.nextCursor == nil)
        }
    }

    @Test("runsAfter lists a job's dependents", arguments: StoreBackend.allCases)
    func dependents(backend: StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            let build = try await store.add(spec("build"))
            let other = try await store.add(spec("other"))
            let test = try await store.add(spec("test", after: [build.id]))
            let ship = try await store.add(spec("ship", after: [build.id, other.id]))
            var filter = JobFilter()
            filter.runsAfter = build.id
            #expect(try await store.jobs(matching: filter, after: nil, limit: 10, order: .ascending).jobs.map(\.id) == [test.id, ship.id])
            filter.runsAfter = other.id
            #expect(try await store.jobs(matching: filter, after: nil, limit: 10, order: .ascending).jobs.map(\.id) == [ship.id])
            filter.runsAfter = ship.id
            #expect(try await store.jobs(matching: filter, after: nil, limit: 10, order: .ascending).jobs.isEmpty)
        }
    }
}
