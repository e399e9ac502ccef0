// swift-tools-version: 6.2
//
// jobq: a durable producer–consumer job queue daemon. See README.md and
// ../shared/DESIGN.md for the module layout; targets are added here as they
// get real content.

import PackageDescription

/// Settings shared by every target: Swift 6 language mode (complete
/// concurrency checking) and the upcoming features that keep imports and
/// existentials explicit.
let strictSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    // https://github.com/swiftlang/swift-evolution/blob/main/proposals/0335-existential-any.md
    .enableUpcomingFeature("ExistentialAny"),
    // https://github.com/swiftlang/swift-evolution/blob/main/proposals/0444-member-import-visibility.md
    .enableUpcomingFeature("MemberImportVisibility"),
    // No warnings in our code: every warning fails the build (SE-0480).
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "jobq",
    products: [
        .library(name: "AsyncQueues", targets: ["AsyncQueues"]),
        .library(name: "JobModel", targets: ["JobModel"]),
        .library(name: "JobStoring", targets: ["JobStoring"]),
        .library(name: "JobStore", targets: ["JobStore"]),
        .library(name: "JobStorePostgres", targets: ["JobStorePostgres"]),
        .library(name: "JobRunner", targets: ["JobRunner"]),
        .library(name: "JobEngine", targets: ["JobEngine"]),
        .library(name: "SystemdSupport", targets: ["SystemdSupport"]),
        .library(name: "JobDaemon", targets: ["JobDaemon"]),
        .library(name: "JobAPI", targets: ["JobAPI"]),
        .library(name: "JobDashboard", targets: ["JobDashboard"]),
        .library(name: "JobClient", targets: ["JobClient"]),
        .executable(name: "jobqd", targets: ["jobqd"]),
        .executable(name: "jobq", targets: ["jobq"]),
        .executable(name: "jobq-cli", targets: ["jobq-cli"]),
        .executable(name: "StoreCrashProbe", targets: ["StoreCrashProbe"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        // Already in the graph through Hummingbird: named here because JobAPI runs its own
        // listener (socket activation, peer credentials) and JobClient speaks HTTP/1.1 with them.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        // The PostgreSQL store's client: a connection pool (PostgresClient) with bound parameters.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // Already in the graph through postgres-nio: named for the store's TLS settings.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        .target(
            name: "AsyncQueues",
            dependencies: [
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            swiftSettings: strictSettings
        ),
        // What jobq's quick submit path shares with the rest, without Foundation: default paths,
        // the version, job limits, JSON writing, socket error messages.
        .target(
            name: "JobBasics",
            swiftSettings: strictSettings
        ),
        // The value types every layer shares: jobs, their specs and states (Foundation only).
        .target(
            name: "JobModel",
            dependencies: ["JobBasics"],
            swiftSettings: strictSettings
        ),
        // The distribution's libsqlite3 and a shim for the calls Swift cannot make.
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // Build-time tool: migrations/*.sql -> EmbeddedMigrations.swift (names, SQL, checksums).
        .executableTarget(
            name: "MigrationEmbedder",
            swiftSettings: strictSettings
        ),
        .plugin(
            name: "EmbedMigrationsPlugin",
            capability: .buildTool(),
            dependencies: ["MigrationEmbedder"],
            path: "Sources/EmbedMigrationsPlugin"
        ),
        // What a job store is, whatever the database: the protocol the engine and the API call,
        // its results and its errors.
        .target(
            name: "JobStoring",
            dependencies: ["JobModel"],
            swiftSettings: strictSettings
        ),
        // The durable job store on SQLite, the embedded default: with the other store modules,
        // the only code that speaks SQL.
        .target(
            name: "JobStore",
            dependencies: [
                "CSQLite",
                "JobBasics",
                "JobModel",
                "JobStoring",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings,
            plugins: ["EmbedMigrationsPlugin"]
        ),
        // The job store on PostgreSQL, for several jobqd on several hosts: with JobStore, the only
        // code that speaks SQL.
        .target(
            name: "JobStorePostgres",
            dependencies: [
                "JobBasics",
                "JobModel",
                "JobStoring",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings,
            plugins: ["EmbedMigrationsPlugin"]
        ),
        // posix_spawn with glibc's extensions, pidfds, epoll and eventfd: what JobRunner's
        // launcher needs and Swift's Glibc module does not export.
        .target(name: "CJobSpawn"),
        // Runs one job's command: a new session, output to capped log files, timeout and
        // cancellation that tear down the whole process group. The only module that spawns.
        .target(
            name: "JobRunner",
            dependencies: [
                "JobBasics", "JobModel", "CJobSpawn",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The daemon's core: dispatchers (store → AsyncQueue), workers, named queues, retries,
        // dependencies, wait/join, events, graceful drain. A swift-service-lifecycle Service.
        .target(
            name: "JobEngine",
            dependencies: [
                "AsyncQueues", "JobBasics", "JobStoring", "JobRunner", "JobModel",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // systemd's notify and socket-activation protocols, in pure Glibc (no libsystemd).
        .target(
            name: "SystemdSupport",
            dependencies: [
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The HTTP/JSON API on the Unix socket (Hummingbird): the only module that speaks HTTP.
        .target(
            name: "JobAPI",
            dependencies: [
                "JobBasics",
                "JobEngine", "JobStoring", "JobModel",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The web dashboard (docs/dashboard.md): its own listener, sessions from one-time links,
        // server-rendered pages over the socket API answered as the signed-in user.
        .target(
            name: "JobDashboard",
            dependencies: [
                "JobAPI", "JobBasics", "JobModel",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The API's client over the Unix socket (SwiftNIO HTTP/1.1): used by `jobq`, the tests
        // and the benchmarks.
        .target(
            name: "JobClient",
            dependencies: [
                "JobBasics",
                "JobModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // The `jobq` command tree: human tables, `--json`, exit codes.
        .target(
            name: "JobCLI",
            dependencies: [
                "JobBasics",
                "JobClient", "JobModel", "JobRunner",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        // `jobq`: the quick submit path with the C library alone, everything else exec'd to
        // jobq-cli (start-up time: see Sources/jobq/main.swift).
        .executableTarget(
            name: "jobq",
            dependencies: ["JobBasics"],
            swiftSettings: strictSettings
        ),
        // The whole `jobq` client (installed in libexec/jobq; `jobq` execs it).
        .executableTarget(
            name: "jobq-cli",
            dependencies: ["JobCLI"],
            swiftSettings: strictSettings
        ),
        // The composition root: configuration, the state directory's lock, the ServiceGroup.
        .target(
            name: "JobDaemon",
            dependencies: [
                "JobBasics",
                "JobEngine", "JobStore", "JobStorePostgres", "JobStoring", "JobRunner", "JobModel", "SystemdSupport", "JobAPI", "JobDashboard", "AsyncQueues",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The daemon executable: parses its command line and runs JobDaemon.
        .executableTarget(
            name: "jobqd",
            dependencies: [
                "JobDaemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        // Helpers for the test targets only: temporary directories, blocking work off the
        // pools, a notify-socket listener, a seeded generator.
        .target(
            name: "JobQueueTesting",
            dependencies: ["JobRunner"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AsyncQueuesTests",
            dependencies: ["AsyncQueues", "JobQueueTesting"],
            exclude: ["README.md"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "JobModelTests",
            dependencies: ["JobBasics", "JobModel", "JobQueueTesting"],
            swiftSettings: strictSettings
        ),
        // A child process for the crash-durability test: inserts jobs and prints each
        // acknowledged id until it is killed.
        .executableTarget(
            name: "StoreCrashProbe",
            dependencies: ["JobStore", "JobStoring", "JobModel", .product(name: "Logging", package: "swift-log")],
            path: "Tests/StoreCrashProbe",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "JobStoreTests",
            dependencies: [
                "JobStore", "JobStoring", "JobModel", "JobBasics", "StoreCrashProbe", "JobQueueTesting", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Both store backends: the suite of behaviour they share, run against each (PostgreSQL
        // in a private cluster: scripts/postgres-cluster.sh), and the PostgreSQL store's own.
        .testTarget(
            name: "StoreBackendsTests",
            dependencies: [
                "JobStore", "JobStorePostgres", "JobStoring", "JobModel", "JobBasics", "JobQueueTesting",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "JobRunnerTests",
            dependencies: ["JobRunner", "JobModel", "JobQueueTesting"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "JobEngineTests",
            dependencies: [
                "JobEngine", "JobStore", "JobStoring", "JobRunner", "JobModel", "AsyncQueues", "JobQueueTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SystemdSupportTests",
            dependencies: [
                "SystemdSupport", "JobQueueTesting", "JobBasics",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "JobDaemonTests",
            dependencies: [
                "JobDaemon", "JobBasics", "JobStore", "JobStorePostgres", "JobStoring", "JobModel", "JobClient", "jobqd", "jobq", "jobq-cli", "JobQueueTesting",
                "CJobSpawn",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "JobAPITests",
            dependencies: [
                "JobAPI", "JobDashboard", "JobBasics", "JobEngine", "JobStore", "JobStoring", "JobRunner", "JobModel", "JobQueueTesting",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "JobCLITests",
            dependencies: ["JobCLI", "JobClient", "JobModel"],
            swiftSettings: strictSettings
        ),
    ]
)
