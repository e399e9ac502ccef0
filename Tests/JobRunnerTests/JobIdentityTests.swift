import Foundation
import JobBasics
import JobModel
import JobQueueTesting
@testable import JobRunner
import Testing

@Suite("Who a job runs as")
struct JobIdentityTests {
    @Test("A user is looked up in the password and group databases; a uid without an account is none")
    func lookup() throws {
        let root = try #require(JobIdentity.lookup(uid: 0))
        #expect(root.name == "root" && root.gid == 0 && root.groups.contains(0))
        #expect(root.environment["USER"] == "root" && root.environment["LOGNAME"] == "root" && root.environment["HOME"] == root.home)
        let nobody = try #require(JobIdentity.lookup(uid: 65534))
        #expect(nobody.groups.contains(nobody.gid))
        #expect(JobIdentity.lookup(uid: 54321) == nil)
        #expect(JobIdentity.uid(ofUser: "root") == 0)
        #expect(JobIdentity.uid(ofUser: "no-such-user-here") == nil)
        #expect(JobIdentity.gid(ofGroup: "root") == 0)
        #expect(JobIdentity.gid(ofGroup: "no-such-group-here") == nil)
    }

    @Test("Jobs of root, of no submitter, and of a uid without an account fail before they start, saying why")
    func refusals() async throws {
        try await withTemporaryDirectory("jobq-identity") { directory in
            var configuration = ProcessExecutorConfiguration(logDirectory: directory, workingDirectory: directory)
            configuration.runAsSubmitter = true
            let runner = ProcessJobExecutor(configuration: configuration, launcher: testLauncher)
            func submitted(by uid: UInt32?) -> Job {
                var job = job(.argv(["true"]))
                job.spec.submitterUID = uid
                return job
            }
            #expect(await runner.run(submitted(by: 0))
                == .spawnFailed(errno: nil, message: "its submitter is root, and jobs of root are refused (allow_root_jobs is off)"))
            #expect(await runner.run(submitted(by: nil))
                == .spawnFailed(errno: nil, message: "it has no submitter recorded, and jobs run as their submitters (run_as = submitter)"))
            #expect(await runner.run(submitted(by: 54321))
                == .spawnFailed(errno: nil, message: "its submitter, uid 54321, is not a user of this machine now"))
            // Allowed, root's job runs (as root, which these tests are).
            configuration.allowRootJobs = true
            let allowing = ProcessJobExecutor(configuration: configuration, launcher: testLauncher)
            #expect(await allowing.run(submitted(by: getuid())) == .exited(code: 0) || getuid() != 0)
        }
    }

    @Test("A lookup stands for its lifetime, then is made again; a uid without a user is not kept")
    func cache() {
        let lookups = Locked(0)
        let clock = Locked(ContinuousClock.now)
        let known = JobIdentity(uid: 1000, gid: 1000, groups: [1000], name: "ann", home: "/home/ann", shell: "/bin/sh")
        let cache = IdentityCache(lookup: { uid in
            lookups.withLock { $0 += 1 }
            return uid == 1000 ? known : nil
        }, now: { clock.withLock { $0 } })
        #expect(cache.identity(of: 1000) == known)
        #expect(cache.identity(of: 1000) == known)
        #expect(lookups.withLock { $0 } == 1)
        clock.withLock { $0 += IdentityCache.lifetime }
        #expect(cache.identity(of: 1000) == known)
        #expect(lookups.withLock { $0 } == 2)
        #expect(cache.identity(of: 7) == nil)
        #expect(cache.identity(of: 7) == nil)
        #expect(lookups.withLock { $0 } == 4)
    }
}
