import Foundation
@testable import JobEngine
import JobRunner
import Testing

@Suite("Who may submit")
struct SubmitPolicyTests {
    let ann = JobIdentity(uid: 1000, gid: 1000, groups: [1000, 27], name: "ann", home: "/home/ann", shell: "/bin/sh")
    let bob = JobIdentity(uid: 1001, gid: 1001, groups: [1001], name: "bob", home: "/home/bob", shell: "/bin/sh")

    @Test("Names and @groups, separated by commas or blanks; a group the system does not know is an error")
    func parsing() throws {
        #expect(try SubmitPolicy.principals("ann, bob\t@root") == [.user("ann"), .user("bob"), .group(0)])
        #expect(try SubmitPolicy.principals("") == [])
        #expect(throws: PolicyError(description: "no group 'no-such-group-here' on this machine")) {
            try SubmitPolicy.principals("ann @no-such-group-here")
        }
    }

    @Test("An allow list lets in only its users and groups; a deny list keeps out its own; root and the daemon's user always submit")
    func decisions() {
        let none = SubmitPolicy()
        #expect(none.refusal(uid: 1001, identity: bob, daemonUID: 999) == nil)
        #expect(none.refusal(uid: 4242, identity: nil, daemonUID: 999) == nil)
        let allow = SubmitPolicy(allowed: [.group(27)])
        #expect(allow.refusal(uid: 1000, identity: ann, daemonUID: 999) == nil)
        #expect(allow.refusal(uid: 1001, identity: bob, daemonUID: 999) == "bob (uid 1001) may not submit: not allowed by allow_submit")
        #expect(allow.refusal(uid: 0, identity: nil, daemonUID: 999) == nil)
        #expect(allow.refusal(uid: 999, identity: nil, daemonUID: 999) == nil)
        #expect(allow.refusal(uid: 4242, identity: nil, daemonUID: 999) == "uid 4242 has no account on this machine, and a submit policy is set")
        let deny = SubmitPolicy(denied: [.user("bob")])
        #expect(deny.refusal(uid: 1000, identity: ann, daemonUID: 999) == nil)
        #expect(deny.refusal(uid: 1001, identity: bob, daemonUID: 999) == "bob (uid 1001) may not submit: refused by deny_submit")
        // With both, the allow list decides (as at.allow does when it exists).
        let both = SubmitPolicy(allowed: [.user("bob")], denied: [.user("bob")])
        #expect(both.refusal(uid: 1001, identity: bob, daemonUID: 999) == nil)
    }
}
