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
///
/// It reads the command line from `argv` one argument at a time and keeps the command as
/// positions in `argv`: no `[String]`, whose storage needs generic metadata at run time (see
/// `RawBytes`).
struct QuickSubmit {
    typealias Arguments = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>

    var socket: String?
    var queue = "default"
    var priority = 0
    var shell = false
    /// The command: `argv[command]`.
    var command: Range<Int>
    var cwd: String
    private let argv: Arguments

    init?(argc: Int32, argv: Arguments) {
        let count = Int(argc)
        var position = 1
        func next() -> String? {
            guard position < count, let pointer = argv[position] else { return nil }
            position += 1
            return String(cString: pointer)
        }
        var first = next()
        if first == "--socket", position < count {
            socket = next()
            guard socket?.hasPrefix("-") == false else { return nil }  // jobq-cli's to judge, as below
            first = next()
        } else if let option = first, option.hasPrefix("--socket=") {
            socket = String(option.dropFirst("--socket=".count))
            first = next()
        }
        guard first == "submit" else { return nil }
        var sawSeparator = false
        while let argument = next() {
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
            // An option's value: inline (`--queue=x`), or the next argument unless it looks like
            // an option (jobq-cli's parser refuses `-p -5`: it leaves those to jobq-cli).
            func value() -> String? {
                if let inline { return inline }
                guard let following = next(), !following.hasPrefix("-") else { return nil }
                return following
            }
            switch name {
            case "-q", "--queue":
                guard let value = value() else { return nil }
                queue = value
            case "-p", "--priority":
                guard let value = value(), let number = Int(value) else { return nil }
                priority = number
            case "--socket":
                guard let value = value() else { return nil }
                socket = value
            case "--shell":
                guard inline == nil else { return nil }
                shell = true
            default:
                return nil
            }
        }
        command = position..<count
        self.argv = argv
        guard sawSeparator, let cwd = Self.currentDirectory() else { return nil }
        self.cwd = cwd
        // The checks JobSpec.validate() and jobq-cli make; anything they would refuse goes there.
        guard JobLimits.isValidQueueName(queue), JobLimits.priority.contains(priority), !command.isEmpty,
            command.allSatisfy({ argv[$0] != nil })
        else {
            return nil
        }
        var bytes = shell ? command.count : 0
        var blank = true
        var ascii = true
        for index in command {
            Self.withText(argv[index]!) { text in
                bytes += text.count
                // JobLimits.isBlankShell for ASCII; a non-ASCII byte is not blank here, and the
                // check below decides (only some code points are whitespace).
                blank = blank && text.allSatisfy { (9...13).contains($0) || $0 == 32 }
                ascii = ascii && text.allSatisfy { $0 < 0x80 }
            }
        }
        guard bytes <= JobLimits.commandBytes, command.count <= JobLimits.argumentCount else { return nil }
        if shell {
            guard !blank else { return nil }
            if !ascii {
                var joined = ""
                for index in command { joined += (index == command.lowerBound ? "" : " ") + String(cString: argv[index]!) }
                guard !JobLimits.isBlankShell(joined) else { return nil }
            }
        } else {
            guard argv[command.lowerBound]![0] != 0 else { return nil }
        }
    }

    /// Calls `body` with an argument's bytes as `jobq-cli` sees them: as they are when they are
    /// ASCII, else as a `String` makes them (invalid UTF-8 becomes U+FFFD).
    private static func withText(_ argument: UnsafeMutablePointer<CChar>, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        let raw = UnsafeBufferPointer(start: UnsafeRawPointer(argument).assumingMemoryBound(to: UInt8.self), count: strlen(argument))
        if raw.allSatisfy({ $0 < 0x80 }) { return body(raw) }
        var text = String(cString: argument)
        text.withUTF8(body)
    }

    private static func currentDirectory() -> String? {
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(PATH_MAX) + 1)
        defer { buffer.deallocate() }
        guard getcwd(buffer, Int(PATH_MAX) + 1) != nil, buffer[0] == CChar(UInt8(ascii: "/")) else { return nil }
        return String(cString: buffer)
    }

    /// The request body: the same JSON `jobq-cli` sends for this spec (sorted keys).
    func writeBody(into body: RawBytes) {
        func string(_ text: UnsafeBufferPointer<UInt8>) {
            body.append(UInt8(ascii: "\""))
            for byte in text { JSONOutput.escape(byte) { body.append($0) } }
            body.append(UInt8(ascii: "\""))
        }
        func string(_ text: String) {
            var text = text
            text.withUTF8 { string($0) }
        }
        body.append("{")
        if !shell {
            body.append("\"argv\":[")
            for index in command {
                if index != command.lowerBound { body.append(UInt8(ascii: ",")) }
                Self.withText(argv[index]!) { string($0) }
            }
            body.append("],")
        }
        body.append("\"cwd\":")
        string(cwd)
        body.append(",\"priority\":")
        if priority < 0 { body.append(UInt8(ascii: "-")) }
        body.appendDecimal(abs(priority))  // within JobLimits.priority
        body.append(",\"queue\":")
        string(queue)
        if shell {
            body.append(",\"shell\":\"")
            for index in command {
                if index != command.lowerBound { body.append(UInt8(ascii: " ")) }
                Self.withText(argv[index]!) { text in
                    for byte in text { JSONOutput.escape(byte) { body.append($0) } }
                }
            }
            body.append(UInt8(ascii: "\""))
        }
        body.append("}")
    }

    /// Sends the job and prints its id; returns jobq's exit code (0, 3 unreachable, 4 refused).
    func run() -> Int32 {
        let path = socket ?? DefaultPaths.clientSocket(environment: Self.variable, uid: getuid())
        let body = RawBytes(capacity: 512)
        writeBody(into: body)
        let request = RawBytes(capacity: body.count + 160)
        request.append("POST /v1/jobs HTTP/1.1\r\nHost: localhost\r\nAccept: text/plain\r\nContent-Type: application/json\r\nContent-Length: ")
        request.appendDecimal(body.count)
        request.append("\r\nConnection: close\r\n\r\n")
        request.append(body.bytes)
        switch HTTPExchange.perform(socket: path, request: request.bytes) {
        case .failure(let problem):
            let message = switch problem {
            case .unreachable(let reason): SocketErrors.unreachable(socket: path, reason: reason)
            case .badResponse(let reason): "unexpected answer from jobqd: \(reason)"
            }
            printError("jobq: \(message)")
            return 3
        case .success(let response):
            // `Accept: text/plain`: the new id and a newline, or `code: message` and a newline.
            let text = response.body.bytes
            let isID = text.count > 1 && text.last == UInt8(ascii: "\n")
                && text.dropLast().allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            if (200..<300).contains(response.status), isID {
                _ = write(1, text.baseAddress, text.count)
                return 0
            }
            if !(200..<300).contains(response.status),
               let colon = HTTPExchange.firstIndex(of: ": ", in: text, from: 0, to: text.count), text.last == UInt8(ascii: "\n") {
                let code = String(decoding: text[..<colon], as: UTF8.self)
                let message = String(decoding: text[(colon + 2)..<(text.count - 1)], as: UTF8.self)
                printError("jobq: \(message) (\(code))")
                return 4
            }
            printError("jobq: unexpected answer from jobqd: HTTP \(response.status)")
            return 3
        }
    }

    /// One environment variable, read with getenv(3) when asked for (building a dictionary of
    /// the whole environment cost a tenth of the command's run time).
    private static func variable(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
