import Foundation
import JobQueueTesting

/// Network namespaces of a test's own, one per node, each joined to the host by a veth pair on
/// a /30 of its own, so that a node reaches a server on the host over TCP and the test can cut
/// that link. Everything it makes is removed by ``remove()`` (a namespace's removal takes its
/// veth pair with it). Needs root and iproute2.
final class NetworkLab: Sendable {
    struct Link: Sendable {
        /// The namespace the node runs in.
        let namespace: String
        /// The host's end of the veth pair: down cuts the node off.
        let hostInterface: String
        /// The host's address on the link: where the node reaches the server.
        let hostAddress: String
    }

    let links: [String: Link]

    /// Whether the machine lets a test make namespaces (root, and `ip` present).
    static var isAvailable: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: ip)
    }

    static let ip = ["/usr/sbin/ip", "/sbin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/sbin/ip"

    init(nodes: [String]) throws {
        let tag = String(UInt32.random(in: 0...0xFFFF), radix: 16)
        let net = Int.random(in: 100...199)
        var links: [String: Link] = [:]
        for (index, node) in nodes.enumerated() {
            links[node] = Link(namespace: "jobq-\(tag)-\(node)", hostInterface: "jqh\(tag)\(index)",
                               hostAddress: "10.\(net).\(index + 1).1")
        }
        self.links = links
        do {
            for (index, node) in nodes.enumerated() {
                let link = links[node]!
                let inner = "jqn\(tag)\(index)"
                try Self.run(["netns", "add", link.namespace])
                try Self.run(["link", "add", link.hostInterface, "type", "veth", "peer", "name", inner])
                try Self.run(["link", "set", inner, "netns", link.namespace])
                try Self.run(["addr", "add", "\(link.hostAddress)/30", "dev", link.hostInterface])
                try Self.run(["link", "set", link.hostInterface, "up"])
                try Self.run(["-n", link.namespace, "addr", "add", "10.\(net).\(index + 1).2/30", "dev", inner])
                try Self.run(["-n", link.namespace, "link", "set", inner, "up"])
                try Self.run(["-n", link.namespace, "link", "set", "lo", "up"])
            }
        } catch {
            remove()
            throw error
        }
    }

    /// Cuts node `node` off the host (its packets are dropped, nothing is reset), or joins it
    /// again.
    func setLink(of node: String, up: Bool) throws {
        try Self.run(["link", "set", links[node]!.hostInterface, up ? "up" : "down"])
    }

    /// Deletes the namespaces (and with them the veth pairs).
    func remove() {
        for link in links.values {
            try? Self.run(["netns", "delete", link.namespace])
            try? Self.run(["link", "delete", link.hostInterface])
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(filePath: ip)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw Failure(description: "ip \(arguments.joined(separator: " ")): \(text)")
        }
    }
}
