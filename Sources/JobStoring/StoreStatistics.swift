/// Counters of the store's writes, to see group commit at work.
public struct StoreStatistics: Sendable, Hashable {
    /// Transactions committed (or attempted) by the writer.
    public var transactions: Int = 0
    /// Operations run in them; `operations / transactions` is the mean group size.
    public var operations: Int = 0
    /// The largest number of operations committed in one transaction.
    public var largestGroup: Int = 0
    /// Transactions of operations none of which asked for an fsync (claims).
    public var unsyncedTransactions: Int = 0

    public init(transactions: Int = 0, operations: Int = 0, largestGroup: Int = 0, unsyncedTransactions: Int = 0) {
        self.transactions = transactions
        self.operations = operations
        self.largestGroup = largestGroup
        self.unsyncedTransactions = unsyncedTransactions
    }
}
