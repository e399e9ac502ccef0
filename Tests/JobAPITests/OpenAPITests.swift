import Foundation
import Hummingbird
import JobAPI
import Testing

@Suite("docs/openapi.yaml")
struct OpenAPITests {
    /// `METHOD /path` for every operation of the document (its `paths:` section, two-space
    /// indented paths and four-space indented methods, as the file is written).
    static func documentedRoutes() throws -> [String] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/openapi.yaml")
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.hasPrefix("openapi: 3."))
        var routes: [String] = []
        var inPaths = false
        var path: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" { inPaths = true; continue }
            if inPaths, let first = line.first, first != " ", first != "#" { inPaths = false }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                path = String(line.dropFirst(2).dropLast())
            } else if let path, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                let method = line.trimmingCharacters(in: .whitespaces).dropLast()
                if ["get", "post", "put", "delete", "patch"].contains(String(method)) {
                    routes.append("\(method.uppercased()) \(path)")
                }
            }
        }
        return routes
    }

    @Test("The document lists exactly the routes the router has")
    func documentMatchesRouter() async throws {
        let documented = Set(try Self.documentedRoutes())
        try await withAPI { _, fixture in
            let router = JobAPI.router(JobAPI.Environment(
                engine: fixture.engine, store: fixture.store, logDirectory: fixture.directory, peers: testPeers))
            let actual = Set(router.routes.map { route in
                let path = route.path.description.split(separator: "/").map { part in
                    part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
                }.joined(separator: "/")
                return "\(route.method) /\(path)"
            })
            #expect(actual == documented, "only in the router: \(actual.subtracting(documented)); only in the document: \(documented.subtracting(actual))")
            #expect(actual == Set(JobAPI.routes))
        }
    }
}
