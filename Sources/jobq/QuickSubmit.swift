#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import JobBasics

/// `jobq [--socket PATH] submit [-q|--queue Q] [-p|--priority N] [--shell] [--socket PATH] -- COMMAND...`
/// done with the C library alone: one HTTP/1.1 request on the daemon's socket, the new id alone
/// on stdout. `init` returns nil for anything else, and for any value `jobq-cli` would refuse,
/// so that the whole client gives its own message and exit code.
struct QuickSubmit {
    var socket: String?
    var queue = "default"
    var priority = 0
    var shell = false
    var command: [String] = []
    var cwd: String

    init?(arguments: [String]) {
        var rest = arguments[...]
        if let (value, remaining) = Self.socketOption(rest) {
            socket = value
            rest = remaining
        }
        guard rest.popFirst() == "submit" else { return nil }
        var sawSeparator = false
        while let argument = rest.popFirst() {
            if argument == "--" {
                sawSeparator = true
                break
            }
            var name = argument
            var inline: String?
            if argument.hasPrefix("--"), let (before, after) = argument.splitAtFirstByte(UInt8(ascii: "=")) {
                name = before
                inline = after
            }
            switch name {
            case "-q", "--queue":
                guard let value = inline ?? rest.popFirst() else { return nil }
                queue = value
            case "-p", "--priority":
                guard let value = inline ?? rest.popFirst(), let number = Int(value) else { return nil }
                priority = number
            case "--socket":
                guard let value = inline ?? rest.popFirst() else { return nil }
                socket = value
            case "--shell":
                guard inline == nil else { return nil }
                shell = true
            default:
                return nil
            }
        }
        command = Array(rest)
        guard sawSeparator, let cwd = Self.currentDirectory() else { return nil }
        self.cwd = cwd
        // The checks JobSpec.validate() and jobq-cli make; anything they would refuse goes there.
        guard JobLimits.isValidQueueName(queue), JobLimits.priority.contains(priority), let program = command.first else {
            return nil
        }
        let bytes = command.reduce(0) { $0 + $1.utf8.count } + (shell ? command.count : 0)
        guard bytes <= JobLimits.commandBytes, command.count <= JobLimits.argumentCount else { return nil }
        if shell {
            guard !command.joined(separator: " ").allSatisfy(\.isWhitespace) else { return nil }
        } else {
            guard !program.isEmpty else { return nil }
        }
    }

    private static func socketOption(_ arguments: ArraySlice<String>) -> (String, ArraySlice<String>)? {
        guard let first = arguments.first else { return nil }
        if first == "--socket", arguments.count >= 2 {
            return (arguments[arguments.startIndex + 1], arguments.dropFirst(2))
        }
        if first.hasPrefix("--socket=") {
            return (String(first.dropFirst("--socket=".count)), arguments.dropFirst())
        }
        return nil
    }

    private static func currentDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return nil }
        let path = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return path.startsWithByte(UInt8(ascii: "/")) ? path : nil
    }

    /// The request body: the same JSON `jobq-cli` sends for this spec (sorted keys).
    var body: [UInt8] {
        var json = JSONOutput()
        json.beginObject()
        if !shell {
            json.key("argv")
            json.stringArray(command)
        }
        json.key("cwd")
        json.string(cwd)
        json.key("priority")
        json.integer(Int64(priority))
        json.key("queue")
        json.string(queue)
        if shell {
            json.key("shell")
            json.string(command.joined(separator: " "))
        }
        json.endObject()
        return json.bytes
    }

    /// Sends the job and prints its id; returns jobq's exit code (0, 3 unreachable, 4 refused).
    func run() -> Int32 {
        let path = socket ?? DefaultPaths.clientSocket(environment: Self.environment(), uid: getuid())
        let body = body
        var request = Array("POST /v1/jobs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8)
        request += body
        switch HTTPExchange.perform(socket: path, request: request) {
        case .failure(let problem):
            let message = switch problem {
            case .unreachable(let reason): SocketErrors.unreachable(socket: path, reason: reason)
            case .badResponse(let reason): "unexpected answer from jobqd: \(reason)"
            }
            printError("jobq: \(message)")
            return 3
        case .success(let response):
            if (200..<300).contains(response.status), let id = JSONScan.integer(after: "\"id\":", in: response.body) {
                let line = Array("\(id)\n".utf8)
                _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
                return 0
            }
            if let code = JSONScan.string(after: "\"code\":", in: response.body),
                let message = JSONScan.string(after: "\"message\":", in: response.body)
            {
                printError("jobq: \(message) (\(code))")
                return 4
            }
            printError("jobq: unexpected answer from jobqd: HTTP \(response.status)")
            return 3
        }
    }

    private static func environment() -> [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let (name, value) = text.splitAtFirstByte(UInt8(ascii: "=")) {
                result[name] = value
            }
            entry += 1
        }
        return result
    }
}
