#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import JobBasics

/// One HTTP/1.1 request and its answer on a Unix socket, with blocking system calls: all the
/// quick submit needs (the daemon answers its `Accept: text/plain` submit with a Content-Length).
enum HTTPExchange {
    struct Response {
        var status: Int
        var body: RawBytes
    }

    enum Problem: Error {
        case unreachable(String)
        case badResponse(String)
    }

    typealias Bytes = UnsafeBufferPointer<UInt8>

    static func perform(socket path: String, request: Bytes) -> Result<Response, Problem> {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else {
            return .failure(.unreachable("the socket path is longer than \(capacity - 1) bytes"))
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            var path = path
            path.withUTF8 { raw.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            raw[path.utf8.count] = 0
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
            let count = send(fd, request.baseAddress! + sent, request.count - sent, Int32(MSG_NOSIGNAL))
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(.unreachable("the connection broke: " + SocketErrors.reason(errno: errno)))
            }
            sent += count
        }

        let received = RawBytes(capacity: 16 * 1024)
        while true {
            if let response = parse(received.bytes) { return response }
            received.reserve(16 * 1024)
            let count = recv(fd, received.base + received.count, 16 * 1024, 0)
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(.unreachable("the connection broke: " + SocketErrors.reason(errno: errno)))
            }
            if count == 0 {
                return .failure(.unreachable(received.count == 0
                    ? "the daemon closed the connection without an answer" : "the daemon closed the connection mid-answer"))
            }
            received.grow(by: count)
        }
    }

    /// The whole response once `bytes` holds it; nil while more is needed. Byte-wise on the
    /// buffer, without arrays or generic String algorithms, whose runtime metadata costs more
    /// than the parsing at a process's start.
    static func parse(_ bytes: Bytes) -> Result<Response, Problem>? {
        guard let headerEnd = firstIndex(of: "\r\n\r\n", in: bytes, from: 0, to: bytes.count) else { return nil }
        // "HTTP/1.x NNN reason"
        let statusEnd = firstIndex(of: "\r\n", in: bytes, from: 0, to: headerEnd) ?? headerEnd
        guard statusEnd >= 12, matches("HTTP/1.", in: bytes, at: 0), let status = decimal(bytes, from: 9, to: 12) else {
            return .failure(.badResponse("not an HTTP/1.1 status line"))
        }
        var contentLength: Int?
        var lineStart = statusEnd + 2
        while lineStart < headerEnd {
            let lineEnd = firstIndex(of: "\r\n", in: bytes, from: lineStart, to: headerEnd) ?? headerEnd
            defer { lineStart = lineEnd + 2 }
            guard let colon = (lineStart..<lineEnd).first(where: { bytes[$0] == UInt8(ascii: ":") }) else { continue }
            var valueStart = colon + 1
            var valueEnd = lineEnd
            while valueStart < valueEnd, bytes[valueStart] == UInt8(ascii: " ") || bytes[valueStart] == 9 { valueStart += 1 }
            while valueEnd > valueStart, bytes[valueEnd - 1] == UInt8(ascii: " ") || bytes[valueEnd - 1] == 9 { valueEnd -= 1 }
            if isName("content-length", in: bytes, from: lineStart, to: colon) {
                contentLength = decimal(bytes, from: valueStart, to: valueEnd)
            }
        }
        let bodyStart = headerEnd + 4
        guard let length = contentLength else { return .failure(.badResponse("an answer without Content-Length")) }
        guard bytes.count - bodyStart >= length else { return nil }
        let body = RawBytes(capacity: length)
        body.append(Bytes(rebasing: bytes[bodyStart..<(bodyStart + length)]))
        return .success(Response(status: status, body: body))
    }

    /// A decimal number of ASCII digits in `bytes[from..<to]`, nil for anything else.
    static func decimal(_ bytes: Bytes, from: Int, to: Int) -> Int? {
        guard from < to, to - from < 19, to <= bytes.count else { return nil }
        var value = 0
        for index in from..<to {
            let digit = bytes[index]
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(digit - UInt8(ascii: "0"))
        }
        return value
    }

    /// Where `pattern` first starts in `bytes[from..<to]`.
    static func firstIndex(of pattern: StaticString, in bytes: Bytes, from: Int, to: Int) -> Int? {
        var index = from
        while index + pattern.utf8CodeUnitCount <= to {
            if matches(pattern, in: bytes, at: index) { return index }
            index += 1
        }
        return nil
    }

    /// Whether `bytes` holds `pattern` at `index` (ASCII letters of any case when `caseless`).
    static func matches(_ pattern: StaticString, in bytes: Bytes, at index: Int, caseless: Bool = false) -> Bool {
        let count = pattern.utf8CodeUnitCount
        guard index >= 0, index + count <= bytes.count else { return false }
        let start = pattern.utf8Start
        for offset in 0..<count {
            let byte = bytes[index + offset]
            if (caseless ? byte | 0x20 : byte) != start[offset] { return false }
        }
        return true
    }

    /// Whether the header name in `bytes[from..<to]` is `name` (given in lower case).
    private static func isName(_ name: StaticString, in bytes: Bytes, from: Int, to: Int) -> Bool {
        to - from == name.utf8CodeUnitCount && matches(name, in: bytes, at: from, caseless: true)
    }
}
