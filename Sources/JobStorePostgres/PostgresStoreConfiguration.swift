import Foundation

/// Where a PostgreSQL store is and how to reach it, read from a `postgresql://` URL as libpq
/// writes them, with the password kept off the command line.
///
/// `postgresql://USER@HOST:PORT/DATABASE?PARAMETERS`, where `HOST` is a name or address, or
/// (percent-encoded, or as the `host` parameter) the directory of the server's Unix socket.
/// Parameters: `host`, `port`, `sslmode` (`disable`, `prefer`, `require`), `password_file` (a
/// file whose first line is the password), `pool_size` (connections, default 10),
/// `application_name`. A URL that carries a password itself is refused: a command line is
/// readable by every user of the machine; the password comes from `password_file` or the
/// environment (`JOBQ_STORE_PASSWORD`, then `PGPASSWORD`).
public struct PostgresStoreConfiguration: Hashable, Sendable, CustomStringConvertible {
    /// How the store reaches the server.
    public enum Endpoint: Hashable, Sendable {
        case tcp(host: String, port: Int)
        /// The socket file (`DIRECTORY/.s.PGSQL.PORT`).
        case unixSocket(path: String)
    }

    /// Whether the connection is encrypted (libpq's `sslmode`, the modes jobq supports).
    public enum TLSMode: String, Hashable, Sendable, CaseIterable {
        case disable, prefer, require
    }

    public var endpoint: Endpoint
    public var user: String
    public var database: String
    public var password: String?
    public var tls: TLSMode
    /// Connections the store keeps at most.
    public var poolSize: Int
    /// Shown in `pg_stat_activity`.
    public var applicationName: String

    public init(
        endpoint: Endpoint, user: String, database: String, password: String? = nil,
        tls: TLSMode = .prefer, poolSize: Int = 10, applicationName: String = "jobqd"
    ) {
        self.endpoint = endpoint
        self.user = user
        self.database = database
        self.password = password
        self.tls = tls
        self.poolSize = poolSize
        self.applicationName = applicationName
    }

    /// Reads a `postgresql://` (or `postgres://`) URL; `environment` supplies the password when
    /// no `password_file` is named, and `readFile` reads that file.
    public init(
        url text: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        readFile: (String) throws -> String = { try String(contentsOfFile: $0, encoding: .utf8) }
    ) throws(PostgresStoreConfigurationError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme,
              ["postgresql", "postgres"].contains(scheme.lowercased()) else {
            throw .init("'\(text)' is not a postgresql:// URL (postgresql://USER@HOST:PORT/DATABASE)")
        }
        if components.password != nil {
            throw .init("the store's URL carries a password, which every user of the machine could read on the "
                + "command line: put it in a file named by password_file=PATH, or in JOBQ_STORE_PASSWORD")
        }
        var parameters: [String: String] = [:]
        for item in components.queryItems ?? [] {
            guard Self.parameters.contains(item.name) else {
                throw .init("unknown parameter '\(item.name)' in the store's URL (known: "
                    + Self.parameters.sorted().joined(separator: ", ") + ")")
            }
            parameters[item.name] = item.value ?? ""
        }
        let port: Int
        if let given = parameters["port"] {
            guard let number = Int(given), (1...65535).contains(number) else {
                throw .init("port '\(given)' in the store's URL is not a port number")
            }
            port = number
        } else {
            port = components.port ?? 5432
        }
        let host = parameters["host"] ?? components.percentEncodedHost?.removingPercentEncoding ?? ""
        if host.hasPrefix("/") {
            endpoint = .unixSocket(path: host + (host.hasSuffix("/") ? "" : "/") + ".s.PGSQL.\(port)")
        } else if !host.isEmpty {
            endpoint = .tcp(host: host, port: port)
        } else {
            throw .init("the store's URL names no host: postgresql://USER@HOST/DATABASE, or ?host=/SOCKET/DIRECTORY")
        }
        user = components.user?.removingPercentEncoding ?? ""
        guard !user.isEmpty else { throw .init("the store's URL names no user: postgresql://USER@HOST/DATABASE") }
        database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw .init("the store's URL names no database: postgresql://USER@HOST/DATABASE")
        }
        let mode = parameters["sslmode"] ?? (host.hasPrefix("/") ? "disable" : "prefer")
        guard let tls = TLSMode(rawValue: mode) else {
            throw .init("sslmode '\(mode)' is not one of " + TLSMode.allCases.map(\.rawValue).joined(separator: ", "))
        }
        self.tls = tls
        if let size = parameters["pool_size"] {
            guard let number = Int(size), (1...1000).contains(number) else {
                throw .init("pool_size '\(size)' is not a number of connections from 1 to 1000")
            }
            poolSize = number
        } else {
            poolSize = 10
        }
        applicationName = parameters["application_name"] ?? "jobqd"
        if let file = parameters["password_file"] {
            let contents: String
            do {
                contents = try readFile(file)
            } catch {
                throw .init("cannot read the store's password file \(file): \(error.localizedDescription)")
            }
            password = contents.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        } else {
            password = environment["JOBQ_STORE_PASSWORD"] ?? environment["PGPASSWORD"]
        }
    }

    static let parameters: Set<String> = ["host", "port", "sslmode", "password_file", "pool_size", "application_name"]

    /// The URL without any secret, for logs and messages.
    public var description: String {
        let place = switch endpoint {
        case let .tcp(host, port): "\(host.contains(":") ? "[\(host)]" : host):\(port)"
        case let .unixSocket(path): "(socket \(path))"
        }
        return "postgresql://\(user)@\(place)/\(database)"
    }
}

/// Why a store's URL cannot be used, in a sentence the operator can act on.
public struct PostgresStoreConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String

    init(_ description: String) { self.description = description }
}
