import Foundation
import JobStore
import JobStorePostgres
import JobStoring
import Logging
import ServiceLifecycle

extension JobDaemon {
    /// The store jobqd opened, and the services it needs run beside the engine, in start order
    /// (PostgreSQL's connection pool, then the store's own work; none for SQLite).
    struct OpenedStore {
        var store: any JobStoring
        var services: [any Service]
        /// The PostgreSQL store, whose news of the other nodes the engine must hear.
        var postgres: PostgresJobStore?
    }

    /// Opens the store the configuration names: the SQLite database (in the state directory by
    /// default), or a PostgreSQL database this jobqd shares as node `node` (the host's name by
    /// default). A URL that cannot be used is a configuration error (78); a database that
    /// cannot be opened or reached, the database's (74).
    static func openStore(
        _ configuration: DaemonConfiguration, environment: [String: String], logger: Logger
    ) async throws(DaemonError) -> OpenedStore {
        guard let url = configuration.postgresURL else {
            if configuration.serveQueues != nil {
                throw DaemonError(
                    description: "serve_queues needs a PostgreSQL store: on SQLite this jobqd is the only node, and the queues it did not serve would never run",
                    exitCode: 78)
            }
            do {
                let store = try await JobStore.open(
                    StoreConfiguration(path: configuration.databasePath, logDirectory: configuration.logDirectory,
                                       durability: configuration.durability),
                    logger: logger)
                return OpenedStore(store: store, services: [], postgres: nil)
            } catch {
                throw DaemonError(description: error.description, exitCode: 74)
            }
        }
        let postgres: PostgresStoreConfiguration
        do throws(PostgresStoreConfigurationError) {
            postgres = try PostgresStoreConfiguration(url: url, environment: environment)
        } catch {
            throw DaemonError(description: "store: \(error)", exitCode: 78)
        }
        let node = configuration.node ?? ProcessInfo.processInfo.hostName
        do {
            let store = try await PostgresJobStore.open(
                postgres, node: node, serves: configuration.serveQueues, logDirectory: configuration.logDirectory,
                heartbeat: NodeHeartbeat(lapse: configuration.heartbeatLapse), logger: logger)
            return OpenedStore(store: store, services: [store.connectionPool, store], postgres: store)
        } catch {
            throw DaemonError(description: "cannot open the store \(postgres): \(error.description)", exitCode: 74)
        }
    }
}
