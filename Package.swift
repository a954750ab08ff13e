// swift-tools-version:6.0
//
// Keel: a consensus-backed key-value store.
// Dependencies point one way: Raft (core) <- KeelStorage and transport <- server <- client, CLI, library.
import PackageDescription

let package = Package(
    name: "Keel",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Raft", targets: ["Raft"]),
        .library(name: "RaftSimulation", targets: ["RaftSimulation"]),
        .library(name: "KeelStorage", targets: ["KeelStorage"]),
        .library(name: "JepsenChecker", targets: ["JepsenChecker"]),
        .executable(name: "raft-sim", targets: ["raft-sim"]),
        .executable(name: "raft-bench", targets: ["raft-bench"]),
        .executable(name: "storage-bench", targets: ["storage-bench"]),
        .executable(name: "jepsen", targets: ["jepsen"]),
        .executable(name: "checker-bench", targets: ["checker-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
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
        .target(name: "KeelStorage", dependencies: ["Raft", "CRocksDB"]),
        .executableTarget(name: "storage-bench", dependencies: ["KeelStorage"]),
        // The child process that the crash-safety test kills with SIGKILL.
        .executableTarget(name: "storage-crash-writer", dependencies: ["KeelStorage"]),
        .testTarget(name: "KeelStorageTests", dependencies: ["KeelStorage", "Raft"]),

        // jepsen/: the linearizability checker and its command line.
        .target(name: "JepsenChecker", path: "jepsen/Sources/JepsenChecker"),
        .executableTarget(
            name: "jepsen",
            dependencies: ["JepsenChecker", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "jepsen/Sources/jepsen"
        ),
        .executableTarget(name: "checker-bench", dependencies: ["JepsenChecker"], path: "jepsen/Sources/checker-bench"),
        .testTarget(name: "JepsenCheckerTests", dependencies: ["JepsenChecker"], path: "jepsen/Tests/JepsenCheckerTests"),
    ],
    swiftLanguageModes: [.v6]
)
