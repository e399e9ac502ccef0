/// One migration as compiled into the binary from `migrations/BACKEND/NNNN_name.sql`.
public struct EmbeddedMigration: Hashable, Sendable {
    /// The file name without `.sql` (`0001_initial`); migrations apply in this order.
    public var name: String
    /// FNV-1a 64 of the file's bytes, in hex, computed at build time.
    public var checksum: String
    /// The SQL text.
    public var sql: String

    public init(name: String, checksum: String, sql: String) {
        self.name = name
        self.checksum = checksum
        self.sql = sql
    }
}
