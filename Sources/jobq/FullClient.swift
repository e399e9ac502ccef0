#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `jobq-cli`, the whole client, found beside this executable (the build folder, or a custom
/// install) or in `../libexec/jobq/` (what `make install` does).
enum FullClient {
    static func exec(_ arguments: [String]) -> Never {
        let own = ownPath()
        let directory = own.map { path in String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) } ?? "."
        let candidates = [directory + "/jobq-cli", directory + "/../libexec/jobq/jobq-cli"]
        for candidate in candidates where access(candidate, X_OK) == 0 {
            // argv[0] stays "jobq": jobq-cli's usage lines and messages name jobq.
            let argv = (["jobq"] + arguments).map { strdup($0) } + [nil]
            execv(candidate, argv)
            let code = errno
            printError("jobq: cannot run \(candidate): \(String(cString: strerror(code)))")
            exit(127)
        }
        printError("jobq: jobq-cli, the rest of jobq, is missing (looked for \(candidates.joined(separator: " and "))); reinstall jobq")
        exit(127)
    }

    /// This executable's path, from `/proc/self/exe`.
    private static func ownPath() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Writes one line to standard error with write(2).
func printError(_ message: String) {
    let bytes = Array((message + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}
