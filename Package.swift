// swift-tools-version:6.0
//
// Keel: a consensus-backed key-value store.
// Dependencies point one way: Raft (core) <- KeelStorage and transport <- server <- client, CLI, library.
import PackageDescription

let package = Package(
    name: "Keel",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Raft", targets: ["Raft"]),
        .library(name: "RaftSimulation", targets: ["RaftSimulation"]),
        .library(name: "KeelStorage", targets: ["KeelStorage"]),
        .library(name: "JepsenChecker", targets: ["JepsenChecker"]),
        .executable(name: "raft-sim", targets: ["raft-sim"]),
        .executable(name: "node-sim", targets: ["node-sim"]),
        .executable(name: "raft-bench", targets: ["raft-bench"]),
        .executable(name: "storage-bench", targets: ["storage-bench"]),
        .executable(name: "jepsen", targets: ["jepsen"]),
        .executable(name: "checker-bench", targets: ["checker-bench"]),
        .library(name: "KeelTransport", targets: ["KeelTransport"]),
        .library(name: "KeelNode", targets: ["KeelNode"]),
        .library(name: "KeelServer", targets: ["KeelServer"]),
        .library(name: "KeelClient", targets: ["KeelClient"]),
        .library(name: "KeelEmbedded", targets: ["KeelEmbedded"]),
        .executable(name: "kvd", targets: ["kvd"]),
        .executable(name: "kvctl", targets: ["kvctl"]),
        .executable(name: "keel-load", targets: ["keel-load"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // The Raft core: a deterministic state machine. No Foundation, I/O, clocks or global randomness.
        .target(name: "Raft"),
        // Test support: a seeded in-process cluster simulator that owns every fault.
        .target(name: "RaftSimulation", dependencies: ["Raft"]),
        .executableTarget(
            name: "raft-sim",
            dependencies: ["RaftSimulation", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(name: "raft-bench", dependencies: ["Raft"]),
        .testTarget(name: "RaftTests", dependencies: ["Raft", "RaftSimulation"]),
        .testTarget(name: "RaftSimulationTests", dependencies: ["Raft", "RaftSimulation"]),

        // RocksDB (Debian's librocksdb-dev) through its C API.
        .systemLibrary(
            name: "CRocksDB",
            pkgConfig: "rocksdb",
            providers: [.apt(["librocksdb-dev"])]
        ),
        // CRC-32C, shared by the stored records, snapshot streams and peer frames.
        .target(name: "KeelChecksum", dependencies: ["CKeelCRC32C"]),
        // The CPU's CRC-32C instruction, which Swift cannot emit itself.
        .target(name: "CKeelCRC32C"),
        .testTarget(name: "KeelChecksumTests", dependencies: ["KeelChecksum"]),
        .target(name: "KeelStorage", dependencies: ["Raft", "CRocksDB", "KeelChecksum"]),
        .executableTarget(name: "storage-bench", dependencies: ["KeelStorage", "CRocksDB"]),
        // The child process that the crash-safety test kills with SIGKILL.
        .executableTarget(name: "storage-crash-writer", dependencies: ["KeelStorage"]),
        .testTarget(name: "KeelStorageTests", dependencies: ["KeelStorage", "KeelChecksum", "Raft"]),

        // Peer transport: Raft messages in length-prefixed frames over TCP (SwiftNIO).
        .target(
            name: "KeelTransport",
            dependencies: [
                "Raft", "KeelChecksum",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "KeelTransportTests",
            dependencies: [
                "KeelTransport", "KeelChecksum", "Raft",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),

        // One replicated node: the serial owner of the Raft core, its storage and its peers.
        .target(
            name: "KeelNode",
            dependencies: [
                "Raft", "KeelStorage", "KeelTransport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "KeelNodeTests",
            dependencies: ["KeelNode", "KeelStorage", "KeelTransport", "Raft", "RaftSimulation", .product(name: "Logging", package: "swift-log")]
        ),

        // The node simulation: the node's state machine on simulated disks, network and clocks.
        .target(
            name: "NodeSimulation",
            dependencies: ["KeelNode", "KeelStorage", "KeelTransport", "Raft", "RaftSimulation", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "node-sim",
            dependencies: ["NodeSimulation", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "NodeSimulationTests", dependencies: ["NodeSimulation", "KeelNode", "KeelStorage", "Raft"]),

        // etcd's v3 API (package etcdserverpb): .proto files and the Swift generated from them once.
        .target(
            name: "KeelProto",
            dependencies: [
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            ],
            exclude: ["proto"]
        ),

        // The server: etcd v3 gRPC services over a KeelNode, metrics, health, configuration.
        .target(
            name: "KeelServer",
            dependencies: [
                "KeelNode", "KeelTransport", "KeelStorage", "KeelProto", "Raft",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "kvd",
            dependencies: ["KeelServer", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Real-process tests: kvd clusters on loopback, etcdctl against them.
        .testTarget(
            name: "KeelServerTests",
            dependencies: [
                "KeelServer", "KeelClient", "KeelNode", "KeelStorage", "KeelProto", "Raft",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            exclude: ["Fixtures"]
        ),

        // The client library (etcd v3 over gRPC) and the command line on top of it.
        .target(
            name: "KeelClient",
            dependencies: [
                "KeelProto",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "kvctl",
            dependencies: ["KeelClient", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(
            name: "KeelClientTests",
            dependencies: [
                "KeelClient", "KeelProto",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ]
        ),
        // A bounded concurrent load against a running cluster (puts, gets, grants, watches); prints rates and latencies.
        .executableTarget(
            name: "keel-load",
            dependencies: [
                "KeelClient", "KeelProto", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ]
        ),

        // A replicated member inside a Swift program (etcd's embed), used through KeelClient.
        .target(
            name: "KeelEmbedded",
            dependencies: [
                "KeelServer", "KeelClient", "KeelNode",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "KeelEmbeddedTests",
            dependencies: ["KeelEmbedded", "KeelClient", "KeelServer", .product(name: "Logging", package: "swift-log")]
        ),

        // jepsen/: the linearizability checker and its command line.
        .target(name: "JepsenChecker", path: "jepsen/Sources/JepsenChecker"),
        // The partition-test harness: real clusters in network namespaces, faults, workloads.
        .target(
            name: "JepsenHarness",
            dependencies: [
                "JepsenChecker", "KeelClient", "KeelProto",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                // Watch streams and the Lock service, which KeelClient does not carry.
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ],
            path: "jepsen/Sources/JepsenHarness"
        ),
        .executableTarget(
            name: "jepsen",
            dependencies: ["JepsenChecker", "JepsenHarness", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "jepsen/Sources/jepsen"
        ),
        .executableTarget(name: "checker-bench", dependencies: ["JepsenChecker"], path: "jepsen/Sources/checker-bench"),
        .testTarget(name: "JepsenCheckerTests", dependencies: ["JepsenChecker"], path: "jepsen/Tests/JepsenCheckerTests"),
        // Root-only tests of the harness: namespaces, teardown, each nemesis's effect, short runs.
        .testTarget(
            name: "JepsenHarnessTests",
            dependencies: ["JepsenHarness", "JepsenChecker", "KeelClient"],
            path: "jepsen/Tests/JepsenHarnessTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)
