import JobModel
import JobStoring

/// How the store opens its database.
public struct StoreConfiguration: Sendable {
    /// How hard a commit waits for the disk.
    public enum Durability: String, Sendable, CaseIterable {
        /// `synchronous=FULL`: every acknowledged commit has been fsynced, so it survives a power
        /// cut. The default.
        case full
        /// `synchronous=NORMAL`: commits survive a crash of the daemon, but the last ones before
        /// a power cut or kernel crash may be lost. Faster on slow disks.
        case normal
    }

    /// The database file (its directory must exist). `-wal` and `-shm` files sit beside it.
    public var path: String
    /// The directory where job output goes; the store records `<logDirectory>/<id>.out` and
    /// `.err` as a job's output paths when it is claimed.
    public var logDirectory: String
    /// `full` unless the operator chooses otherwise.
    public var durability: Durability
    /// How long a statement waits for a lock held by another process before it fails.
    public var busyTimeout: Duration
    /// SQLite's page cache per connection, in KiB.
    public var cacheSizeKiB: Int
    /// Raise glibc's heap trim threshold and top pad at open (see `csqlite_keep_heap_top`).
    public var tuneMalloc: Bool

    public init(
        path: String,
        logDirectory: String,
        durability: Durability = .full,
        busyTimeout: Duration = .seconds(5),
        cacheSizeKiB: Int = 8192,
        tuneMalloc: Bool = true
    ) {
        self.path = path
        self.logDirectory = logDirectory
        self.durability = durability
        self.busyTimeout = busyTimeout
        self.cacheSizeKiB = cacheSizeKiB
        self.tuneMalloc = tuneMalloc
    }
}
