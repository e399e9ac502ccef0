import JobBasics
import Logging
import NIOCore
import PostgresNIO

/// A statement that got no answer: its connection had closed, or it outlived
/// ``PostgresConnection/statementLimit`` and its connection was closed.
struct StatementLost: Error, CustomStringConvertible {
    var description: String
}

extension PostgresConnection {
    /// The longest a statement of the store may take before its connection is closed and the
    /// statement fails as unavailable: the store's statements are short, and lock waits within
    /// its transactions as well.
    static let statementLimit = TimeAmount.seconds(60)

    /// Runs `query` and collects its rows, failing after `limit`. PostgresNIO 1.33's async
    /// `query` awaits a promise it hands to the channel with a write that no handler sees once
    /// the channel has closed (the server restarting, a connection cut): that promise is never
    /// completed, and its caller would wait for ever. Here the query's future is raced with a
    /// timer on the connection's event loop, and a closed connection is refused before the
    /// write, so that the caller always gets an answer.
    func rows(_ query: PostgresQuery, logger: Logger, limit: TimeAmount = statementLimit) async throws -> [PostgresRow] {
        guard !isClosed else { throw StatementLost(description: "the connection to PostgreSQL is closed") }
        let future: EventLoopFuture<PostgresQueryResult> = self.query(query, logger: logger)
        let answered = Locked(false)
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[PostgresRow], any Error>) in
            let timer = eventLoop.scheduleTask(in: limit) {
                guard answered.withLock({ done in defer { done = true }; return !done }) else { return }
                self.close().whenComplete { _ in }
                continuation.resume(throwing: StatementLost(description: "PostgreSQL did not answer within \(limit)"))
            }
            future.whenComplete { result in
                timer.cancel()
                guard answered.withLock({ done in defer { done = true }; return !done }) else { return }
                continuation.resume(with: result.map { $0.rows })
            }
        }
    }

    /// Runs a statement and reads its answer to the end: a statement's error can arrive after
    /// its first rows, and a result left unread would hide it until the next statement fails
    /// with "current transaction is aborted".
    func run(_ query: PostgresQuery, logger: Logger, limit: TimeAmount = statementLimit) async throws {
        _ = try await rows(query, logger: logger, limit: limit)
    }
}

extension Array where Element == PostgresRow {
    /// Every row decoded as `T` (a column, or a tuple of columns).
    func decoded<T: PostgresDecodable & Sendable>(_ type: T.Type) throws -> [T] {
        try map { try $0.decode(T.self) }
    }

    /// Every row decoded as a tuple of columns.
    func decoded<each Column: PostgresDecodable>(_ types: (repeat each Column).Type) throws -> [(repeat each Column)] {
        try map { try $0.decode((repeat each Column).self) }
    }
}
