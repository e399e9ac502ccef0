#if canImport(Glibc)
import Glibc
#endif

/// Where the web dashboard listens: a TCP address (`127.0.0.1:8377`, `[::1]:8377`,
/// `localhost:8377`) or a Unix socket path for a reverse proxy.
public enum WebAddress: Hashable, Sendable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    /// Parses `HOST:PORT` (an IPv4 address, a bracketed IPv6 address or `localhost`; port 0
    /// picks a free one) or an absolute socket path.
    public init(parsing text: String) throws(WebAddressError) {
        if text.hasPrefix("/") {
            guard text.utf8.count < 108 else { throw .invalid(text, "a socket path is at most 107 bytes") }
            self = .unix(path: text)
            return
        }
        guard let colon = text.lastIndex(of: ":") else {
            throw .invalid(text, "expected HOST:PORT (127.0.0.1:8377) or an absolute socket path")
        }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw .invalid(text, "the port must be a number from 0 to 65535")
        }
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
            guard Self.isIPv6(host) else { throw .invalid(text, "'\(host)' is not an IPv6 address") }
        } else if host != "localhost" {
            guard Self.isIPv4(host) else {
                throw .invalid(text, "the host must be an IP address ([…] for IPv6) or localhost, not a name to resolve")
            }
        }
        self = .tcp(host: host, port: port)
    }

    /// Whether only this machine can connect: a loopback address, or a Unix socket.
    public var isLocal: Bool {
        switch self {
        case .unix: true
        case .tcp(let host, _): host == "localhost" || host == "::1" || host.hasPrefix("127.")
        }
    }

    /// The address as a URL's authority part (`127.0.0.1:8377`, `[::1]:8377`).
    static func authority(host: String, port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    public var description: String {
        switch self {
        case .unix(let path): path
        case let .tcp(host, port): Self.authority(host: host, port: port)
        }
    }

    private static func isIPv4(_ text: String) -> Bool {
        var address = in_addr()
        return inet_pton(AF_INET, text, &address) == 1
    }

    private static func isIPv6(_ text: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET6, text, &address) == 1
    }
}

/// A `web` setting jobqd cannot use.
public enum WebAddressError: Error, Hashable, Sendable, CustomStringConvertible {
    case invalid(String, String)

    public var description: String {
        switch self {
        case let .invalid(text, why): "'\(text)': \(why)"
        }
    }
}
