#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import JobBasics

/// One HTTP/1.1 request and its answer on a Unix socket, with blocking system calls: all the
/// quick submit needs (the answer has a Content-Length or is chunked; the connection is closed).
enum HTTPExchange {
    struct Response {
        var status: Int
        var body: [UInt8]
    }

    enum Problem: Error {
        case unreachable(String)
        case badResponse(String)
    }

    static func perform(socket path: String, request: [UInt8]) -> Result<Response, Problem> {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else {
            return .failure(.unreachable("the socket path is longer than \(capacity - 1) bytes"))
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(.unreachable(SocketErrors.reason(errno: errno))) }
        defer { close(fd) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { return .failure(.unreachable(SocketErrors.reason(errno: errno))) }

        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(.unreachable("the connection broke: " + SocketErrors.reason(errno: errno)))
            }
            sent += count
        }

        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            if let response = parse(received) { return response }
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(.unreachable("the connection broke: " + SocketErrors.reason(errno: errno)))
            }
            if count == 0 {
                return .failure(.unreachable(received.isEmpty
                    ? "the daemon closed the connection without an answer" : "the daemon closed the connection mid-answer"))
            }
            received += chunk[..<count]
        }
    }

    /// The whole response once `bytes` holds it; nil while more is needed. Byte-wise and
    /// without generic String algorithms, whose runtime metadata lookups cost more than the
    /// parsing at a process's start.
    static func parse(_ bytes: [UInt8]) -> Result<Response, Problem>? {
        guard let headerEnd = firstIndex(of: [13, 10, 13, 10], in: bytes[...]) else { return nil }
        var lines: [ArraySlice<UInt8>] = []
        var lineStart = 0
        while lineStart < headerEnd {
            let lineEnd = firstIndex(of: [13, 10], in: bytes[lineStart..<headerEnd]) ?? headerEnd
            lines.append(bytes[lineStart..<lineEnd])
            lineStart = lineEnd + 2
        }
        // "HTTP/1.x NNN reason"
        guard let statusLine = lines.first, statusLine.count >= 12,
            statusLine.starts(with: Array("HTTP/1.".utf8)),
            let status = decimal(statusLine.dropFirst(9).prefix(3))
        else {
            return .failure(.badResponse("not an HTTP/1.1 status line"))
        }
        var contentLength: Int?
        var chunked = false
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let name = line[..<colon].map { $0 | 0x20 }  // ASCII lower case
            var value = line[(colon + 1)...]
            while value.first == UInt8(ascii: " ") || value.first == 9 { value = value.dropFirst() }
            while value.last == UInt8(ascii: " ") || value.last == 9 { value = value.dropLast() }
            if name == Array("content-length".utf8) { contentLength = decimal(value) }
            if name == Array("transfer-encoding".utf8), firstIndex(of: Array("chunked".utf8), in: ArraySlice(value.map { $0 | 0x20 })) != nil {
                chunked = true
            }
        }
        let bodyStart = headerEnd + 4
        if chunked { return dechunk(bytes[bodyStart...]).map { .success(Response(status: status, body: $0)) } }
        guard let length = contentLength else { return .failure(.badResponse("an answer without Content-Length")) }
        guard bytes.count - bodyStart >= length else { return nil }
        return .success(Response(status: status, body: Array(bytes[bodyStart..<(bodyStart + length)])))
    }

    /// A decimal number of ASCII digits, nil for anything else.
    static func decimal(_ digits: ArraySlice<UInt8>) -> Int? {
        guard !digits.isEmpty, digits.count < 19 else { return nil }
        var value = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(digit - UInt8(ascii: "0"))
        }
        return value
    }

    /// A chunked body, once its last chunk has arrived.
    private static func dechunk(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        var body: [UInt8] = []
        var position = bytes.startIndex
        while true {
            guard let lineEnd = firstIndex(of: [13, 10], in: bytes[position...]) else { return nil }
            var sizeText = bytes[position..<lineEnd]
            if let semicolon = sizeText.firstIndex(of: UInt8(ascii: ";")) { sizeText = sizeText[..<semicolon] }
            guard let size = Int(String(decoding: sizeText, as: UTF8.self), radix: 16) else { return nil }
            let dataStart = lineEnd + 2
            if size == 0 { return body }
            guard bytes.endIndex - dataStart >= size + 2 else { return nil }
            body += bytes[dataStart..<(dataStart + size)]
            position = dataStart + size + 2
        }
    }

    private static func firstIndex(of pattern: [UInt8], in bytes: ArraySlice<UInt8>) -> Int? {
        guard bytes.count >= pattern.count else { return nil }
        var index = bytes.startIndex
        while index + pattern.count <= bytes.endIndex {
            if bytes[index] == pattern[0], bytes[index..<(index + pattern.count)].elementsEqual(pattern) { return index }
            index += 1
        }
        return nil
    }
}

/// Finds values in the daemon's small JSON answers without a JSON library: the integer or the
/// string right after a given key.
enum JSONScan {
    static func integer(after key: String, in bytes: [UInt8]) -> Int64? {
        guard var index = end(of: key, in: bytes) else { return nil }
        while index < bytes.count, bytes[index] == UInt8(ascii: " ") { index += 1 }
        let digits = bytes[index...].prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        return Int64(String(decoding: digits, as: UTF8.self))
    }

    /// A JSON string, its escapes undone.
    static func string(after key: String, in bytes: [UInt8]) -> String? {
        guard var index = end(of: key, in: bytes) else { return nil }
        while index < bytes.count, bytes[index] == UInt8(ascii: " ") { index += 1 }
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        index += 1
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flush() {
            scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
            raw.removeAll()
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                flush()
                return String(scalars)
            }
            if byte == UInt8(ascii: "\\"), index + 1 < bytes.count {
                flush()
                let escaped = bytes[index + 1]
                index += 2
                switch escaped {
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "b"): scalars.append("\u{8}")
                case UInt8(ascii: "f"): scalars.append("\u{c}")
                case UInt8(ascii: "u"):
                    guard index + 4 <= bytes.count,
                        let value = UInt32(String(decoding: bytes[index..<(index + 4)], as: UTF8.self), radix: 16)
                    else { return nil }
                    scalars.append(Unicode.Scalar(value) ?? "\u{FFFD}")
                    index += 4
                default: scalars.append(Unicode.Scalar(escaped))
                }
                continue
            }
            raw.append(byte)
            index += 1
        }
        return nil
    }

    private static func end(of key: String, in bytes: [UInt8]) -> Int? {
        let pattern = Array(key.utf8)
        guard bytes.count >= pattern.count else { return nil }
        for start in 0...(bytes.count - pattern.count) where bytes[start..<(start + pattern.count)].elementsEqual(pattern) {
            return start + pattern.count
        }
        return nil
    }
}
