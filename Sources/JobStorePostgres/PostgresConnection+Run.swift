import Logging
import PostgresNIO

extension PostgresConnection {
    /// Runs a statement and reads its answer to the end: a statement's error can arrive after
    /// its first rows, and a result left unread would hide it until the next statement fails
    /// with "current transaction is aborted".
    func run(_ query: PostgresQuery, logger: Logger) async throws {
        for try await _ in try await self.query(query, logger: logger) {}
    }
}
