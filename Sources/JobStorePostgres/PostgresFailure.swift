import JobStoring
import PostgresNIO

extension StorageFailure {
    /// A PostgreSQL client's error in the store's common terms: the server's SQLSTATE class
    /// says full, busy or unique; a lost or refused connection is `unavailable`. Bound values
    /// never appear (PostgresNIO keeps them out of what it reports from the server).
    init(postgres error: any Error) {
        if let lost = error as? StatementLost {
            self.init(kind: .unavailable, message: lost.description, detail: "PostgreSQL: \(lost.description)")
            return
        }
        guard let error = error as? PSQLError else {
            self.init(kind: .other, message: "\(error)", detail: "PostgreSQL: \(error)")
            return
        }
        let state = error.serverInfo?[.sqlState]
        let message = error.serverInfo?[.message] ?? Self.clientMessage(error)
        let kind: Kind =
            switch state {
            case "53100", "53200", "53000": .diskFull  // disk_full, out_of_memory, insufficient_resources
            case "55P03", "40P01", "40001", "57014": .busy  // lock_not_available, deadlock, serialization, statement timeout
            case "23505": .uniqueViolation
            case "3D000", "28000", "28P01", "42501": .notADatabase  // no database, refused login, no privilege
            case "57P01", "57P02", "57P03", "08000", "08003", "08006": .unavailable  // shutting down, connection lost
            case .some: .other
            case .none: error.code == .server ? .other : .unavailable
            }
        var detail = "PostgreSQL"
        if let state { detail += " error \(state)" }
        detail += ": \(message)"
        if let hint = error.serverInfo?[.hint] { detail += " (\(hint))" }
        self.init(kind: kind, message: message, detail: detail)
    }

    /// What the client says of an error that did not come from the server (a refused or lost
    /// connection): its code and the underlying error (a socket's errno), never the query.
    private static func clientMessage(_ error: PSQLError) -> String {
        var text = "\(error.code)"
        if let underlying = error.underlying { text += ": \(underlying)" }
        return text
    }
}

extension JobStoreError {
    /// The store's error for a failed PostgreSQL call.
    /// A refusal thrown inside a transaction comes back as it was (the transaction rolled back).
    static func postgres(_ error: any Error) -> JobStoreError {
        if let error = error as? JobStoreError { return error }
        if let transaction = error as? PostgresTransactionError {
            if let inner = transaction.closureError ?? transaction.commitError ?? transaction.beginError {
                return postgres(inner)
            }
        }
        return .storage(StorageFailure(postgres: error))
    }
}
