// swift-tools-version: 6.2
//
// Benchmarks for jobq, kept in their own package so that the main build stays light.
// Run from this folder:
//   swift package --disable-sandbox benchmark            (ordo-one/benchmark suites)
//   python3.13 compare_asyncio.py                        (ratios against CPython's asyncio.Queue)
// See README.md.

import PackageDescription

let package = Package(
    name: "jobq-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "jobq", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // The workloads, shared by the ordo-one suites and the plain throughput runner.
        .target(
            name: "QueueWorkloads",
            dependencies: [
                .product(name: "AsyncQueues", package: "jobq"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Prints items/s per configuration as JSON lines; compare_asyncio.py runs it.
        .executableTarget(
            name: "queue-throughput",
            dependencies: ["QueueWorkloads"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The job store's figures: durable inserts, batches, claim+finish, a large backlog.
        .executableTarget(
            name: "store-bench",
            dependencies: [
                .product(name: "JobStore", package: "jobq"),
                .product(name: "JobStoring", package: "jobq"),
                .product(name: "JobModel", package: "jobq"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Spawn rate of the job runner: /usr/bin/true through ProcessJobExecutor.
        .executableTarget(
            name: "runner-bench",
            dependencies: [
                .product(name: "JobRunner", package: "jobq"),
                .product(name: "JobModel", package: "jobq"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // End to end through the engine: N `true` jobs, W workers, real processes.
        .executableTarget(
            name: "engine-bench",
            dependencies: [
                .product(name: "JobEngine", package: "jobq"),
                .product(name: "JobStore", package: "jobq"),
                .product(name: "JobStoring", package: "jobq"),
                .product(name: "JobRunner", package: "jobq"),
                .product(name: "JobModel", package: "jobq"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Durable submits through the socket to a real jobqd: single and batched, 1 to C clients.
        .executableTarget(
            name: "api-bench",
            dependencies: [
                .product(name: "JobClient", package: "jobq"),
                .product(name: "JobModel", package: "jobq"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "AsyncQueueBenchmarks",
            dependencies: [
                "QueueWorkloads",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/AsyncQueueBenchmarks",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
