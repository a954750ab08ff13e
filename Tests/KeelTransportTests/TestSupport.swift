import Foundation
import Logging
import NIOCore
import Raft
import Synchronization
import XCTest

@testable import KeelTransport

/// SplitMix64: a seeded generator so every randomized test replays identically.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random values of every field of every message kind.
struct MessageGenerator {
    var random: SeededGenerator

    mutating func bytes(max: Int) -> [UInt8] {
        let count = Int.random(in: 0...max, using: &random)
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
    }

    mutating func u64() -> UInt64 {
        // Mix small values and full-width ones so both ends of the range are covered.
        Bool.random(using: &random) ? UInt64.random(in: 0...1000, using: &random) : random.next()
    }

    mutating func ids() -> Set<NodeID> {
        Set((0..<Int.random(in: 0...5, using: &random)).map { _ in NodeID(UInt64.random(in: 1...9, using: &random)) })
    }

    mutating func raft() -> Message {
        let type = MessageType(rawValue: UInt8.random(in: 0...11, using: &random))!
        var message = Message(type: type, from: NodeID(u64()), to: NodeID(u64()), term: Term(u64()),
                              logTerm: Term(u64()), index: LogIndex(u64()), commit: LogIndex(u64()),
                              reject: Bool.random(using: &random), rejectHint: LogIndex(u64()),
                              rejectHintTerm: Term(u64()), context: bytes(max: 40), leaseTick: u64())
        for _ in 0..<Int.random(in: 0...6, using: &random) {
            let kind: EntryKind = Bool.random(using: &random) ? .normal : .confChange
            message.entries.append(Entry(term: Term(u64()), index: LogIndex(u64()), kind: kind, data: bytes(max: 300)))
        }
        if Bool.random(using: &random) {
            let conf = ConfState(voters: ids(), learners: ids(), votersOutgoing: ids(), learnersNext: ids(),
                                 autoLeave: Bool.random(using: &random))
            message.snapshot = Snapshot(
                metadata: SnapshotMetadata(index: LogIndex(u64()), term: Term(u64()), confState: conf),
                data: bytes(max: 2000))
        }
        return message
    }

    mutating func peerMessage() -> PeerMessage {
        switch Int.random(in: 0...4, using: &random) {
        case 0:
            return .raft(raft())
        case 1:
            return .proposal(ForwardedProposal(from: NodeID(u64()), to: NodeID(u64()), requestID: u64(), data: bytes(max: 500)))
        case 3:
            let kind = LeaseRequest.Kind(rawValue: UInt8.random(in: 1...2, using: &random))!
            return .leaseRequest(
                LeaseRequest(from: NodeID(u64()), to: NodeID(u64()), requestID: u64(), kind: kind, leaseID: Int64(bitPattern: u64())))
        case 4:
            let status = LeaseAnswer.Status(rawValue: UInt8.random(in: 0...3, using: &random))!
            return .leaseAnswer(
                LeaseAnswer(
                    from: NodeID(u64()), to: NodeID(u64()), requestID: u64(), status: status, grantedSeconds: Int64(bitPattern: u64()),
                    remainingMilliseconds: Int64(bitPattern: u64())))
        default:
            let reason = ProposalRejection.Reason(rawValue: UInt8.random(in: 1...3, using: &random))!
            let text = String((0..<Int.random(in: 0...30, using: &random)).map { _ in
                "aé→z 𝄞".randomElement(using: &random)!
            })
            return .proposalRejected(ProposalRejection(from: NodeID(u64()), to: NodeID(u64()), requestID: u64(),
                                                       reason: reason, leader: NodeID(u64()), message: text))
        }
    }
}

/// Consumes a transport's events on a task and lets a test wait (bounded) for a condition.
final class EventRecorder: Sendable {
    private let recorded = Mutex<[PeerEvent]>([])
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    init(_ events: AsyncStream<PeerEvent>) {
        let consumer = Task { [self] in
            for await event in events { append(event) }
        }
        task.withLock { $0 = consumer }
    }

    private func append(_ event: PeerEvent) { recorded.withLock { $0.append(event) } }

    var events: [PeerEvent] { recorded.withLock { $0 } }

    /// Raft messages received, in order.
    var messages: [PeerMessage] {
        events.compactMap { if case .message(let message) = $0 { message } else { nil } }
    }

    func stop() { task.withLock { $0?.cancel() } }
}

/// Polls `condition` every 10 ms until it holds or `seconds` pass; returns whether it held.
func eventually(_ seconds: Double = 10, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// A test's transports: built on 127.0.0.1 port 0, wired to each other once bound, always shut down.
final class Cluster {
    var transports: [NodeID: TCPPeerTransport] = [:]
    var recorders: [NodeID: EventRecorder] = [:]

    static func logger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = ProcessInfo.processInfo.environment["KEEL_TEST_LOG"] != nil ? .debug : .critical
        return logger
    }

    @discardableResult
    func add(_ id: UInt64, clusterID: UInt64 = 7, port: Int = 0, config: TransportConfig = Cluster.fastConfig,
             peers: [NodeID: PeerAddress] = [:]) async throws -> TCPPeerTransport {
        let transport = TCPPeerTransport(
            selfID: NodeID(id), clusterID: clusterID, attributes: MemberAttributes(name: "m\(id)", clientURLs: ["http://127.0.0.1:\(2379 + id)"]),
            listenHost: "127.0.0.1", listenPort: port, peers: peers, config: config, logger: Cluster.logger("t\(id)"))
        try await transport.start()
        transports[NodeID(id)] = transport
        recorders[NodeID(id)] = EventRecorder(transport.events)
        return transport
    }

    /// Every transport knows every other at its bound port.
    func connectAll() {
        let addresses = transports.mapValues { PeerAddress(host: "127.0.0.1", port: $0.boundPort!) }
        for (id, transport) in transports {
            transport.setPeers(addresses.filter { $0.key != id })
        }
    }

    func shutdown() async {
        for recorder in recorders.values { recorder.stop() }
        for transport in transports.values { await transport.shutdown() }
    }

    /// Short reconnect delays so tests that restart a peer finish quickly.
    static var fastConfig: TransportConfig {
        var config = TransportConfig()
        config.reconnectDelayBase = .milliseconds(20)
        config.reconnectDelayMax = .milliseconds(200)
        config.pingInterval = .milliseconds(200)
        config.pongTimeout = .seconds(5)
        return config
    }
}

/// A heartbeat whose `index` numbers it, to check order.
func numbered(_ n: Int, from: UInt64, to: UInt64) -> PeerMessage {
    .raft(Message(type: .heartbeat, from: NodeID(from), to: NodeID(to), term: Term(1), index: LogIndex(UInt64(n))))
}
