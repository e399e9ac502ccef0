// Embeds the package's migrations/BACKEND/*.sql into the store target that uses this plugin,
// so that the binary is self-contained: no resource bundle to ship beside jobqd.

import Foundation
import PackagePlugin

@main
struct EmbedMigrationsPlugin: BuildToolPlugin {
    /// Each store target's folder under migrations/.
    static let folders = ["JobStore": "sqlite", "JobStorePostgres": "postgresql"]

    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        guard let folder = Self.folders[target.name] else {
            throw PluginError(description: "no migrations folder is known for target \(target.name)")
        }
        let directory = context.package.directoryURL.appending(path: "migrations/\(folder)", directoryHint: .isDirectory)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path(percentEncoded: false))
            .filter { $0.hasSuffix(".sql") }
            .sorted()
        let inputs = names.map { directory.appending(path: $0, directoryHint: .notDirectory) }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedMigrations.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(inputs.count) migrations into \(target.name)",
                executable: try context.tool(named: "MigrationEmbedder").url,
                arguments: [output.path(percentEncoded: false)] + inputs.map { $0.path(percentEncoded: false) },
                // The folder itself is an input too, so that a new file triggers a rebuild.
                inputFiles: inputs + [directory],
                outputFiles: [output]
            )
        ]
    }
}

/// Why the plugin cannot embed a target's migrations.
struct PluginError: Error, CustomStringConvertible {
    var description: String
}
