import NIOCore
import NIOPosix
import Raft
import XCTest

@testable import KeelTransport

/// Real loopback sockets on 127.0.0.1 port 0; every wait is bounded.
final class TransportTests: XCTestCase {
    func testThreeTransportsExchangeMessagesInOrder() async throws {
        let cluster = Cluster()
        for id: UInt64 in 1...3 { try await cluster.add(id) }
        cluster.connectAll()
        let count = 300
        for from: UInt64 in 1...3 {
            for to: UInt64 in 1...3 where to != from {
                // In several send calls so batching and ordering across calls are both exercised.
                for start in stride(from: 0, to: count, by: 50) {
                    cluster.transports[NodeID(from)]!.send((start..<start + 50).map { numbered($0, from: from, to: to) })
                }
            }
        }
        let delivered = await eventually {
            cluster.recorders.values.allSatisfy { $0.messages.count == 2 * count }
        }
        await cluster.shutdown()
        XCTAssertTrue(delivered, "counts: \(cluster.recorders.mapValues { $0.messages.count })")
        for to: UInt64 in 1...3 {
            let recorder = cluster.recorders[NodeID(to)]!
            for from: UInt64 in 1...3 where from != to {
                let indexes = recorder.messages.filter { $0.from == NodeID(from) }.compactMap { message -> Int? in
                    guard case .raft(let raft) = message else { return nil }
                    XCTAssertEqual(raft.to, NodeID(to))
                    return Int(raft.index.rawValue)
                }
                XCTAssertEqual(indexes, Array(0..<count), "messages from \(from) to \(to) in order")
                XCTAssertTrue(recorder.events.contains(.peerAttributes(
                    NodeID(from), MemberAttributes(name: "m\(from)", clientURLs: ["http://127.0.0.1:\(2379 + from)"]))))
            }
        }
        let stats = cluster.transports[NodeID(1)]!.stats
        XCTAssertEqual(stats.peers[NodeID(2)]?.messagesSent, UInt64(count))
        XCTAssertEqual(stats.peers[NodeID(2)]?.messagesReceived, UInt64(count))
        XCTAssertGreaterThan(stats.peers[NodeID(2)]?.sentBytes ?? 0, UInt64(count * 84))
    }

    func testHostMessagesAndRoundTripProbesFlow() async throws {
        let cluster = Cluster()
        for id: UInt64 in 1...2 { try await cluster.add(id) }
        cluster.connectAll()
        let proposal = PeerMessage.proposal(ForwardedProposal(from: NodeID(2), to: NodeID(1), requestID: 9, data: [1, 2, 3]))
        let rejection = PeerMessage.proposalRejected(ProposalRejection(
            from: NodeID(1), to: NodeID(2), requestID: 9, reason: .notLeader, leader: NodeID(3), message: "not the leader"))
        cluster.transports[NodeID(2)]!.send([proposal])
        cluster.transports[NodeID(1)]!.send([rejection])
        let delivered = await eventually {
            cluster.recorders[NodeID(1)]!.messages == [proposal] && cluster.recorders[NodeID(2)]!.messages == [rejection]
        }
        let probed = await eventually { cluster.transports[NodeID(1)]!.stats.peers[NodeID(2)]?.lastRoundTrip != nil }
        let connected = cluster.transports[NodeID(1)]!.stats.connectedPeers
        await cluster.shutdown()
        XCTAssertTrue(delivered)
        XCTAssertTrue(probed, "a ping/pong round trip was measured")
        XCTAssertEqual(connected, [NodeID(2)])
    }

    func testBurstSharesFrames() async throws {
        let cluster = Cluster()
        for id: UInt64 in 1...2 { try await cluster.add(id) }
        cluster.connectAll()
        let sender = cluster.transports[NodeID(1)]!
        let up = await eventually { sender.stats.connectedPeers.contains(NodeID(2)) }
        XCTAssertTrue(up)
        // One Ready's worth of messages: all queued before the event loop drains any, so the
        // frame count is deterministic: ceil(2000 / batchMessagesMax (1024)) = 2.
        let burst = 2000
        let framesBefore = sender.stats.peers[NodeID(2)]!.messageFramesSent
        sender.send((0..<burst).map { numbered($0, from: 1, to: 2) })
        let delivered = await eventually { cluster.recorders[NodeID(2)]!.messages.count == burst }
        let stats = sender.stats.peers[NodeID(2)]!
        let indexes = cluster.recorders[NodeID(2)]!.messages.compactMap { if case .raft(let m) = $0 { Int(m.index.rawValue) } else { nil } }
        await cluster.shutdown()
        XCTAssertTrue(delivered)
        XCTAssertEqual(indexes, Array(0..<burst))
        XCTAssertEqual(stats.messagesSent, UInt64(burst))
        XCTAssertEqual(stats.messageFramesSent - framesBefore, 2, "2000 messages shared 2 frames")
    }

    func testDownPeerIsUnreachableAndItsQueueStaysBounded() async throws {
        // A port that was bound and released: nothing listens there.
        let probe = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let deadPort = probe.localAddress!.port!
        try await probe.close()
        var config = Cluster.fastConfig
        config.sendQueueMessagesMax = 10
        let cluster = Cluster()
        let transport = try await cluster.add(1, config: config, peers: [NodeID(2): PeerAddress(host: "127.0.0.1", port: deadPort)])
        transport.send((0..<100).map { numbered($0, from: 1, to: 2) })
        let reported = await eventually { cluster.recorders[NodeID(1)]!.events.contains(.unreachable(NodeID(2))) }
        let stats = transport.stats.peers[NodeID(2)]
        // A message for a peer nobody configured is dropped and reported too.
        transport.send([numbered(0, from: 1, to: 9)])
        let unknownReported = await eventually { cluster.recorders[NodeID(1)]!.events.contains(.unreachable(NodeID(9))) }
        await cluster.shutdown()
        XCTAssertTrue(reported)
        XCTAssertTrue(unknownReported)
        XCTAssertEqual(stats?.messagesDropped, 90, "10 queued, the rest dropped")
        XCTAssertEqual(stats?.messagesSent, 0)
        XCTAssertEqual(stats?.connected, false)
    }

    func testReconnectsAfterThePeerRestartsOnTheSamePort() async throws {
        let cluster = Cluster()
        try await cluster.add(1)
        try await cluster.add(2)
        cluster.connectAll()
        let t1 = cluster.transports[NodeID(1)]!
        let port2 = cluster.transports[NodeID(2)]!.boundPort!
        t1.send([numbered(1, from: 1, to: 2)])
        let first = await eventually { cluster.recorders[NodeID(2)]!.messages.count == 1 }
        XCTAssertTrue(first)

        await cluster.transports[NodeID(2)]!.shutdown()
        cluster.recorders[NodeID(2)]!.stop()
        let noticed = await eventually { cluster.recorders[NodeID(1)]!.events.contains(.unreachable(NodeID(2))) }
        XCTAssertTrue(noticed, "the closed connection is reported")
        t1.send([numbered(2, from: 1, to: 2)])  // queued while the peer is down

        let restarted = try await cluster.add(2, port: port2, peers: [NodeID(1): PeerAddress(host: "127.0.0.1", port: t1.boundPort!)])
        t1.send([numbered(3, from: 1, to: 2)])
        let again = await eventually { cluster.recorders[NodeID(2)]!.messages.count == 2 }
        let opened = t1.stats.peers[NodeID(2)]?.connectionsOpened ?? 0
        let indexes = cluster.recorders[NodeID(2)]!.messages.compactMap { if case .raft(let m) = $0 { m.index.rawValue } else { nil } }
        _ = restarted
        await cluster.shutdown()
        XCTAssertTrue(again, "delivered after the restart: \(indexes)")
        XCTAssertEqual(indexes, [2, 3])
        XCTAssertGreaterThanOrEqual(opened, 2)
    }

    func testFiveMiBSnapshotArrivesIntactInChunks() async throws {
        var config = Cluster.fastConfig
        config.snapshotChunkBytes = 256 << 10
        let cluster = Cluster()
        for id: UInt64 in 1...2 { try await cluster.add(id, config: config) }
        cluster.connectAll()
        var random = SeededGenerator(seed: 55)
        let words = (0..<(5 << 20) / 8).map { _ in random.next() }
        let image = words.withUnsafeBytes { Array($0) }
        let conf = ConfState(voters: [NodeID(1), NodeID(2), NodeID(3)])
        let snapshot = Message(type: .installSnapshot, from: NodeID(1), to: NodeID(2), term: Term(3),
                               snapshot: Snapshot(metadata: SnapshotMetadata(index: LogIndex(5000), term: Term(2), confState: conf), data: image))
        let t1 = cluster.transports[NodeID(1)]!
        t1.send([numbered(1, from: 1, to: 2), .raft(snapshot), numbered(2, from: 1, to: 2)])
        let arrived = await eventually(20) { cluster.recorders[NodeID(2)]!.messages.count == 3 }
        let reported = await eventually { cluster.recorders[NodeID(1)]!.events.contains(.snapshotStatus(NodeID(2), succeeded: true)) }
        let chunks = t1.stats.peers[NodeID(2)]?.snapshotChunksSent
        let received = cluster.recorders[NodeID(2)]!.messages
        await cluster.shutdown()
        XCTAssertTrue(arrived)
        XCTAssertTrue(reported)
        XCTAssertEqual(chunks, 20, "5 MiB in 256 KiB chunks")
        XCTAssertEqual(received.count, 3)
        XCTAssertEqual(received.dropFirst().first, .raft(snapshot), "image, metadata and ConfState intact, in order")
        XCTAssertFalse(cluster.recorders[NodeID(1)]!.events.contains(.snapshotStatus(NodeID(2), succeeded: false)))
    }

    func testSnapshotForAnUnreachablePeerFails() async throws {
        let probe = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let deadPort = probe.localAddress!.port!
        try await probe.close()
        let cluster = Cluster()
        let t1 = try await cluster.add(1, peers: [NodeID(2): PeerAddress(host: "127.0.0.1", port: deadPort)])
        let snapshot = Message(type: .installSnapshot, from: NodeID(1), to: NodeID(2),
                               snapshot: Snapshot(metadata: SnapshotMetadata(index: LogIndex(10), term: Term(1), confState: ConfState()), data: [1, 2, 3]))
        t1.send([.raft(snapshot)])
        let failed = await eventually { cluster.recorders[NodeID(1)]!.events.contains(.snapshotStatus(NodeID(2), succeeded: false)) }
        await cluster.shutdown()
        XCTAssertTrue(failed)
    }

    func testConnectionFromAnotherClusterIsRefused() async throws {
        let cluster = Cluster()
        let t1 = try await cluster.add(1, clusterID: 100)
        let t2 = try await cluster.add(2, clusterID: 200)
        cluster.connectAll()
        t1.send([numbered(1, from: 1, to: 2)])
        // t1 keeps redialling and is refused each time: it reports 2 unreachable more than once.
        let refused = await eventually {
            cluster.recorders[NodeID(1)]!.events.filter { $0 == .unreachable(NodeID(2)) }.count >= 2
        }
        let t2Events = cluster.recorders[NodeID(2)]!.events
        let t1Stats = t1.stats.peers[NodeID(2)]
        _ = t2
        await cluster.shutdown()
        XCTAssertTrue(refused)
        XCTAssertGreaterThanOrEqual(t1Stats?.connectionsOpened ?? 0, 2)
        XCTAssertNil(t1Stats?.lastRoundTrip, "a refused connection never answers a probe")
        XCTAssertFalse(t2Events.contains { if case .message = $0 { true } else { false } }, "nothing from another cluster is delivered")
        XCTAssertFalse(t2Events.contains { if case .peerAttributes = $0 { true } else { false } })
    }

    func testConnectionFromAnUnknownMemberIsRefused() async throws {
        let cluster = Cluster()
        let t2 = try await cluster.add(2)
        // 1 knows 2, but 2 does not list 1 among its peers.
        let t1 = try await cluster.add(1, peers: [NodeID(2): PeerAddress(host: "127.0.0.1", port: t2.boundPort!)])
        t1.send([numbered(1, from: 1, to: 2)])
        let refused = await eventually {
            cluster.recorders[NodeID(1)]!.events.filter { $0 == .unreachable(NodeID(2)) }.count >= 2
        }
        let t2Events = cluster.recorders[NodeID(2)]!.events
        await cluster.shutdown()
        XCTAssertTrue(refused)
        XCTAssertTrue(t2Events.isEmpty, "refused before anything was delivered: \(t2Events)")
    }

    func testEventsBufferIsBoundedAndDropsAreCounted() async throws {
        var config = Cluster.fastConfig
        config.eventsBufferedMax = 5
        let receiver = TCPPeerTransport(
            selfID: NodeID(2), clusterID: 7, attributes: MemberAttributes(name: "m2", clientURLs: []),
            listenHost: "127.0.0.1", listenPort: 0, peers: [:], config: config, logger: Cluster.logger("t2"))
        try await receiver.start()  // nobody consumes its events
        let cluster = Cluster()
        let sender = try await cluster.add(1)
        sender.setPeers([NodeID(2): PeerAddress(host: "127.0.0.1", port: receiver.boundPort!)])
        receiver.setPeers([NodeID(1): PeerAddress(host: "127.0.0.1", port: sender.boundPort!)])
        sender.send((0..<50).map { numbered($0, from: 1, to: 2) })
        let received = await eventually { receiver.stats.peers[NodeID(1)]?.messagesReceived == 50 }
        let dropped = receiver.stats.eventsDropped
        await cluster.shutdown()
        await receiver.shutdown()
        XCTAssertTrue(received)
        XCTAssertEqual(dropped, 51 - 5, "peerAttributes + 50 messages, 5 buffered")
    }
}
