import JobStoring
import Logging
import NIOSSL
import PostgresNIO

extension PostgresStoreConfiguration {
    /// The PostgresNIO client's configuration: endpoint, credentials, TLS as `sslmode` says, the
    /// pool's size, and the application's name in `pg_stat_activity`.
    var clientConfiguration: PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        switch endpoint {
        case let .tcp(host, port):
            let tls: PostgresClient.Configuration.TLS = switch self.tls {
            case .disable: .disable
            case .prefer: .prefer(.makeClientConfiguration())
            case .require: .require(.makeClientConfiguration())
            }
            configuration = .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
        case let .unixSocket(path):
            configuration = .init(unixSocketPath: path, username: user, password: password, database: database)
        }
        configuration.options.maximumConnections = poolSize
        configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        return configuration
    }
}

extension PostgresStoreConfiguration {
    /// One connection's configuration, as the pool's.
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        switch endpoint {
        case let .tcp(host, port):
            let tls: PostgresConnection.Configuration.TLS = switch self.tls {
            case .disable: .disable
            case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
            configuration = .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
        case let .unixSocket(path):
            configuration = .init(unixSocketPath: path, username: user, password: password, database: database)
        }
        configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        return configuration
    }

    /// Opens one connection outside the pool: a server that cannot be reached, or refuses the
    /// login, is reported at once (the pool would retry for a minute before giving up).
    func connect(logger: Logger) async throws(JobStoreError) -> PostgresConnection {
        do {
            return try await PostgresConnection.connect(configuration: try connectionConfiguration(), id: 0, logger: logger)
        } catch {
            throw .postgres(error)
        }
    }
}
