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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
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
        .testTarget(
            name: "AsyncQueuesTests",
            dependencies: ["AsyncQueues"],
            exclude: ["README.md"],
            swiftSettings: strictSettings
        ),
    ]
)
