import Foundation
import XCTest

/// One server process of a test cluster: its ports, its data and log, and the running process.
final class ClusterNode {
    let index: Int
    let clientPort: Int
    let peerPort: Int
    let metricsPort: Int
    let dataDirectory: URL
    let logURL: URL
    fileprivate(set) var process: Process?
    /// Whether its client and peer URLs are `https` (set by ``ClusterHarness/tls``).
    fileprivate(set) var usesTLS = false

    var name: String { "node\(index)" }
    var clientAddress: String { "127.0.0.1:\(clientPort)" }
    var scheme: String { usesTLS ? "https" : "http" }
    var clientURL: String { "\(scheme)://\(clientAddress)" }
    var peerURL: String { "\(scheme)://127.0.0.1:\(peerPort)" }
    var isRunning: Bool { process?.isRunning ?? false }

    init(index: Int, ports: ArraySlice<Int>, directory: URL) {
        precondition(ports.count == 3)
        self.index = index
        (clientPort, peerPort, metricsPort) = (ports[ports.startIndex], ports[ports.startIndex + 1], ports[ports.startIndex + 2])
        dataDirectory = directory.appendingPathComponent("node\(index).data")
        logURL = directory.appendingPathComponent("node\(index).log")
    }
}

/// What `endpoint status` says about one endpoint.
struct ClusterEndpointStatus {
    var memberID: UInt64
    var leaderID: UInt64
    var raftTerm: UInt64
}

/// The leader a cluster agreed on.
struct ClusterLeader {
    var node: ClusterNode
    var memberID: UInt64
    var raftTerm: UInt64
}

/// A cluster of real server processes on loopback for one test, started with etcd's flags
/// (`--name`, `--initial-cluster`…), with every child killed by `shutdown()`, which each test's
/// tearDown calls, also after a failure.
final class ClusterHarness {
    /// How long one status probe or client command may take before it is killed.
    static let commandTimeLimitSeconds = 10.0
    /// How long a stopped server gets to exit after SIGTERM before SIGKILL.
    static let stopTimeLimitSeconds = 10.0
    /// Pause between two polls while waiting for the cluster.
    static let pollIntervalMicroseconds: UInt32 = 50_000
    /// Lines of a node's log quoted in a failure message.
    static let logTailLinesMax = 25

    let binaries: ClusterBinaries
    let directory: URL
    let nodes: [ClusterNode]
    let clusterToken: String
    /// Flags every server gets after the harness's own (`--read-mode lease`, say).
    var extraArguments: [String] = []
    /// Whether each server gets `--listen-metrics-urls` on its own port; without it a server
    /// has only etcd's cluster flags and serves `/metrics` on its client URL.
    var separateMetricsListener = true
    /// Flags for one node only (after the common ones), by node name.
    var nodeArguments: [String: [String]] = [:]
    /// The members the cluster is created with (`--initial-cluster-state new`); the others join it
    /// later, once added (`existing`, with the founders and themselves as `--initial-cluster`).
    lazy var founders: [ClusterNode] = nodes
    /// Founders that rejoin as new members (removed, then added again on a new data directory).
    var rejoining: Set<String> = []
    /// With certificates, every URL is `https`, every server requires client and peer
    /// certificates from ``TestCertificates/caFile``, and etcdctl and kvctl present the client
    /// certificate.
    var tls: TestCertificates? {
        didSet { for node in nodes { node.usesTLS = tls != nil } }
    }
    /// Peer certificate and key for one node instead of ``TestCertificates/peer``, by node name.
    var peerCertificateOverrides: [String: TestCertificates.Pair] = [:]

    /// The TLS flags of one server.
    func serverTLSArguments(_ node: ClusterNode) -> [String] {
        guard let tls else { return [] }
        let peer = peerCertificateOverrides[node.name] ?? tls.peer
        return [
            "--cert-file", tls.server.certificate, "--key-file", tls.server.key, "--trusted-ca-file", tls.caFile,
            "--client-cert-auth",
            "--peer-cert-file", peer.certificate, "--peer-key-file", peer.key, "--peer-trusted-ca-file", tls.caFile,
            // Go's other spelling of a boolean flag, as Kubernetes manifests write it.
            "--peer-client-cert-auth=true",
        ]
    }

    /// etcdctl's (and kvctl's) TLS flags.
    var clientTLSArguments: [String] {
        guard let tls else { return [] }
        return ["--cacert=\(tls.caFile)", "--cert=\(tls.client.certificate)", "--key=\(tls.client.key)"]
    }

    init(nodesCount: Int, binaries: ClusterBinaries, testName: String) throws {
        precondition(nodesCount >= 1)
        self.binaries = binaries
        let safeName = testName.filter { $0.isLetter || $0.isNumber }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("keel-e2e-\(safeName)-\(UUID().uuidString.prefix(8))")
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let ports = try ClusterPorts.reserve(3 * nodesCount)
        nodes = (1...nodesCount).map { i in
            ClusterNode(index: i, ports: ports[(3 * (i - 1))..<(3 * i)], directory: directory)
        }
        clusterToken = "keel-e2e-\(UUID().uuidString.prefix(8))"
    }

    func node(_ name: String) -> ClusterNode {
        guard let node = nodes.first(where: { $0.name == name }) else { preconditionFailure("no node \(name)") }
        return node
    }

    /// Comma-separated client addresses, for `--endpoints`.
    func endpoints(_ selected: [ClusterNode]? = nil) -> String {
        (selected ?? nodes).map(\.clientAddress).joined(separator: ",")
    }

    // MARK: processes

    func startAll() throws {
        for node in nodes { try start(node) }
    }

    /// Starts (or restarts) a node with the same flags and data directory as before.
    func start(_ node: ClusterNode) throws {
        precondition(!node.isRunning, "\(node.name) is already running")
        let joins = rejoining.contains(node.name) || !founders.contains { $0 === node }
        let members = founders.contains { $0 === node } ? founders : founders + [node]
        let initialCluster = members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ",")
        let process = Process()
        process.executableURL = binaries.server
        process.arguments = [
            "--name", node.name,
            "--data-dir", node.dataDirectory.path,
            "--listen-client-urls", node.clientURL,
            "--advertise-client-urls", node.clientURL,
            "--listen-peer-urls", node.peerURL,
            "--initial-advertise-peer-urls", node.peerURL,
            "--initial-cluster", initialCluster,
            "--initial-cluster-state", joins ? "existing" : "new",
            "--initial-cluster-token", clusterToken,
        ] + (separateMetricsListener ? ["--listen-metrics-urls", "http://127.0.0.1:\(node.metricsPort)"] : []) + extraArguments
            + serverTLSArguments(node) + (nodeArguments[node.name] ?? [])
        if !FileManager.default.fileExists(atPath: node.logURL.path) {
            FileManager.default.createFile(atPath: node.logURL.path, contents: nil)
        }
        let log = try FileHandle(forWritingTo: node.logURL)
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try log.close()
        node.process = process
    }

    /// Sends `signal` and waits until the process is gone (SIGKILL after the time limit).
    func stop(_ node: ClusterNode, signal: Int32 = SIGTERM) {
        guard let process = node.process, process.isRunning else { return }
        kill(process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(Self.stopTimeLimitSeconds)
        while process.isRunning && Date() < deadline { usleep(Self.pollIntervalMicroseconds / 5) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// Kills every child with SIGKILL and waits for each; removes the folder unless
    /// `KEEL_E2E_KEEP` is set. Safe to call more than once.
    func shutdown() {
        for node in nodes {
            guard let process = node.process else { continue }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        if ProcessInfo.processInfo.environment["KEEL_E2E_KEEP"] == nil {
            try? FileManager.default.removeItem(at: directory)
        }
    }

    func logTail(_ node: ClusterNode) -> String {
        let text = (try? String(contentsOf: node.logURL, encoding: .utf8)) ?? "(no log)"
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).suffix(Self.logTailLinesMax)
        return "--- \(node.name) log (\(node.logURL.path)), last lines:\n" + lines.joined(separator: "\n")
    }

    func logTails(_ selected: [ClusterNode]? = nil) -> String {
        (selected ?? nodes).map(logTail).joined(separator: "\n")
    }

    // MARK: clients

    /// Runs the client under test (kvctl; etcdctl when `KEEL_E2E_CTL` says so) against `selected`.
    func ctl(
        _ arguments: [String], on selected: [ClusterNode]? = nil, stdin: Data? = nil,
        timeLimitSeconds: Double = commandTimeLimitSeconds
    ) throws -> ClusterCommandResult {
        // After the subcommand: kvctl's flags belong to its subcommands.
        try ClusterCommand.run(
            binaries.ctl, arguments + ["--endpoints=\(endpoints(selected))"] + clientTLSArguments, stdin: stdin,
            timeLimitSeconds: timeLimitSeconds, scratch: directory)
    }

    /// Runs etcd's etcdctl 3.4 against `selected`.
    func etcdctl(
        _ arguments: [String], on selected: [ClusterNode]? = nil, stdin: Data? = nil,
        timeLimitSeconds: Double = commandTimeLimitSeconds, interruptAtLimit: Bool = false
    ) throws -> ClusterCommandResult {
        try ClusterCommand.run(
            binaries.etcdctl, ["--endpoints=\(endpoints(selected))"] + clientTLSArguments + arguments, stdin: stdin,
            environment: ["ETCDCTL_API": "3"], timeLimitSeconds: timeLimitSeconds,
            interruptAtLimit: interruptAtLimit, scratch: directory)
    }

    // MARK: leadership

    /// Each answering endpoint's status, by node name; an endpoint that does not answer is left out.
    /// Probed with etcdctl, whose JSON is a fixed reference, so the harness does not depend on the
    /// client under test.
    func statuses(of selected: [ClusterNode]) throws -> [String: ClusterEndpointStatus] {
        var result: [String: ClusterEndpointStatus] = [:]
        for node in selected where node.isRunning {
            let answer = try etcdctl(
                ["endpoint", "status", "-w", "json", "--command-timeout=1s", "--dial-timeout=1s"], on: [node],
                timeLimitSeconds: 5)
            guard answer.succeeded, let data = answer.stdout.data(using: .utf8),
                let decoded = try? JSONDecoder().decode([EndpointStatusJSON].self, from: data),
                let status = decoded.first?.Status
            else { continue }
            result[node.name] = ClusterEndpointStatus(
                memberID: status.header?.member_id ?? 0, leaderID: status.leader ?? 0, raftTerm: status.raftTerm ?? 0)
        }
        return result
    }

    /// Waits until the running nodes among `selected` agree on a leader that is one of them (and is
    /// not `excluding`), or throws with their logs after `timeLimitSeconds`.
    func waitForLeader(
        among selected: [ClusterNode]? = nil, excluding: UInt64? = nil, timeLimitSeconds: Double
    ) throws -> ClusterLeader {
        let candidates = (selected ?? nodes).filter(\.isRunning)
        let deadline = Date().addingTimeInterval(timeLimitSeconds)
        var last: [String: ClusterEndpointStatus] = [:]
        while Date() < deadline {
            last = try statuses(of: candidates)
            if let leader = agreedLeader(last, candidates: candidates), leader.memberID != excluding {
                return leader
            }
            usleep(Self.pollIntervalMicroseconds)
        }
        throw ClusterTestError(
            "no agreed leader among \(candidates.map(\.name)) within \(timeLimitSeconds) s; last statuses: \(last)\n"
                + logTails(candidates))
    }

    /// The leader every answering node names, when it is itself one of them and says so.
    func agreedLeader(_ statuses: [String: ClusterEndpointStatus], candidates: [ClusterNode]) -> ClusterLeader? {
        let leaders = Set(statuses.values.map(\.leaderID))
        guard leaders.count == 1, let leaderID = leaders.first, leaderID != 0 else { return nil }
        guard let (name, status) = statuses.first(where: { $0.value.memberID == leaderID }),
            let node = candidates.first(where: { $0.name == name })
        else { return nil }
        return ClusterLeader(node: node, memberID: leaderID, raftTerm: status.raftTerm)
    }
}

/// etcdctl's `endpoint status -w json` (fields omitted when zero, as Go's JSON does).
private struct EndpointStatusJSON: Decodable {
    struct Header: Decodable { var member_id: UInt64? }
    struct Status: Decodable {
        var header: Header?
        var leader: UInt64?
        var raftTerm: UInt64?
    }
    var Endpoint: String
    var Status: Status
}
