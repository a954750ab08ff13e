import NIOCore
import NIOPosix
import Raft
import Synchronization
import XCTest

@testable import KeelTransport

/// Real sockets carrying bytes no honest peer sends: the receiver closes that one connection and
/// keeps serving the others.
final class HostileConnectionTests: XCTestCase {
    private func rawConnection(to port: Int) async throws -> any Channel {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
    }

    private func handshakeFrame(clusterID: UInt64 = 7, sender: UInt64, receiver: UInt64) -> ByteBuffer {
        FrameCodec.encode(kind: .handshake, payload: Handshake(
            clusterID: clusterID, sender: NodeID(sender), receiver: NodeID(receiver),
            attributes: MemberAttributes(name: "raw", clientURLs: [])).encoded())
    }

    func testBadFramesCloseOnlyThatConnection() async throws {
        let cluster = Cluster()
        for id: UInt64 in 1...2 { try await cluster.add(id) }
        cluster.connectAll()
        let port = cluster.transports[NodeID(2)]!.boundPort!

        var wrongVersion = handshakeFrame(sender: 1, receiver: 2)
        wrongVersion.setInteger(WireFormat.version + 1, at: 4)
        var corrupted = handshakeFrame(sender: 1, receiver: 2)
        corrupted.setInteger(UInt8(0xAA), at: corrupted.writerIndex - 1)
        let messagesBeforeHandshake = FrameCodec.encode(kind: .messages, payload: MessageBatch.encode([numbered(1, from: 1, to: 2)]))
        var forgedLength = handshakeFrame(sender: 1, receiver: 2)
        forgedLength.writeBytes([0xFF, 0xFF, 0xFF, 0xF0, WireFormat.version])
        let garbage = ByteBuffer(bytes: (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) })
        var wrongFrom = handshakeFrame(sender: 1, receiver: 2)
        var batch = FrameCodec.encode(kind: .messages, payload: MessageBatch.encode([numbered(1, from: 3, to: 2)]))
        wrongFrom.writeBuffer(&batch)
        let wrongReceiver = handshakeFrame(sender: 1, receiver: 3)

        let cases: [(String, ByteBuffer)] = [
            ("wrong version", wrongVersion), ("bad checksum", corrupted),
            ("messages before the handshake", messagesBeforeHandshake), ("forged length after a handshake", forgedLength),
            ("garbage", garbage), ("message with a forged sender", wrongFrom), ("handshake for another member", wrongReceiver),
            ("handshake from sender 0", handshakeFrame(sender: 0, receiver: 2)),
            ("handshake from another cluster", handshakeFrame(clusterID: 8, sender: 1, receiver: 2)),
            ("handshake from an unknown member", handshakeFrame(sender: 5, receiver: 2)),
        ]
        for (name, bytes) in cases {
            let channel = try await rawConnection(to: port)
            try await channel.writeAndFlush(bytes)
            let closed = await eventually { !channel.isActive }
            if !closed { try? await channel.close() }
            XCTAssertTrue(closed, "the receiver closed the connection that sent \(name)")
        }
        // A truncated frame: the sender half-closes mid-frame; the receiver closes its side.
        let truncating = try await rawConnection(to: port)
        try await truncating.writeAndFlush(handshakeFrame(sender: 1, receiver: 2).getSlice(at: 0, length: 10)!)
        try await truncating.close(mode: .output)
        let truncatedClosed = await eventually { !truncating.isActive }
        if !truncatedClosed { try? await truncating.close() }
        XCTAssertTrue(truncatedClosed)

        // The honest peer is still served, and nothing the hostile connections sent was delivered.
        cluster.transports[NodeID(1)]!.send([numbered(42, from: 1, to: 2)])
        let delivered = await eventually { !cluster.recorders[NodeID(2)]!.messages.isEmpty }
        let messages = cluster.recorders[NodeID(2)]!.messages
        await cluster.shutdown()
        XCTAssertTrue(delivered)
        XCTAssertEqual(messages, [numbered(42, from: 1, to: 2)])
    }

    func testSilentPeerIsClosedAfterPongTimeoutAndRedialled() async throws {
        // Accepts connections and never answers: a half-dead peer.
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        var config = Cluster.fastConfig
        config.pingInterval = .milliseconds(50)
        config.pongTimeout = .milliseconds(300)
        let cluster = Cluster()
        let t1 = try await cluster.add(1, config: config, peers: [NodeID(2): PeerAddress(host: "127.0.0.1", port: silent.localAddress!.port!)])
        let redialled = await eventually { (t1.stats.peers[NodeID(2)]?.connectionsOpened ?? 0) >= 2 }
        let reported = await eventually { cluster.recorders[NodeID(1)]!.events.contains(.unreachable(NodeID(2))) }
        await cluster.shutdown()
        try await silent.close()
        XCTAssertTrue(redialled, "the unanswered connection was closed and a new one opened")
        XCTAssertTrue(reported)
        XCTAssertNil(t1.stats.peers[NodeID(2)]?.lastRoundTrip)
    }

    func testInboundConnectionsAreBounded() async throws {
        var config = Cluster.fastConfig
        config.inboundConnectionsMax = 2
        config.handshakeTimeout = .seconds(30)
        let cluster = Cluster()
        let t2 = try await cluster.add(2, config: config)
        // Accepted connections are registered on different event loops, so which of the three
        // is refused is a race: exactly one must be.
        var connections: [any Channel] = []
        for _ in 0..<3 { connections.append(try await rawConnection(to: t2.boundPort!)) }
        let oneRefused = await eventually { connections.filter { !$0.isActive }.count == 1 }
        let open = connections.filter { $0.isActive }
        let twoRegistered = open.count == 2 && t2.inboundConnectionCount == 2
        if let first = open.first { try? await first.close() }
        // A slot is free again once that connection is gone.
        let slotFreed = await eventually { t2.inboundConnectionCount == 1 }
        let fourth = try await rawConnection(to: t2.boundPort!)
        try await Task.sleep(for: .milliseconds(200))
        let fourthOpen = fourth.isActive && t2.inboundConnectionCount == 2
        for channel in connections + [fourth] { try? await channel.close() }
        await cluster.shutdown()
        XCTAssertTrue(oneRefused, "the connection beyond the bound is closed")
        XCTAssertTrue(twoRegistered)
        XCTAssertTrue(slotFreed, "the server let go of the closed connection")
        XCTAssertTrue(fourthOpen, "a connection within the bound stays open")
    }

    func testHandshakeTimeoutClosesASilentDialler() async throws {
        var config = Cluster.fastConfig
        config.handshakeTimeout = .milliseconds(200)
        let cluster = Cluster()
        let t2 = try await cluster.add(2, config: config)
        let channel = try await rawConnection(to: t2.boundPort!)
        let closed = await eventually { !channel.isActive }
        if !closed { try? await channel.close() }
        await cluster.shutdown()
        XCTAssertTrue(closed)
    }
}

/// Snapshot streaming against a peer that stops reading.
final class SnapshotBackpressureTests: XCTestCase {
    func testSnapshotStreamWaitsForAStalledPeerAndFailsWhenItsConnectionDies() async throws {
        // Accepts connections but reads nothing, so the kernel buffers fill and stay full.
        let accepted = AcceptedChannels()
        let stalled = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(ChannelOptions.autoRead, value: false)
            .childChannelInitializer { channel in
                accepted.add(channel)
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let cluster = Cluster()
        let t1 = try await cluster.add(1, peers: [NodeID(2): PeerAddress(host: "127.0.0.1", port: stalled.localAddress!.port!)])
        let image = [UInt8](repeating: 7, count: 64 << 20)  // 128 chunks of 512 KiB
        t1.send([.raft(Message(type: .installSnapshot, from: NodeID(1), to: NodeID(2),
                               snapshot: Snapshot(metadata: SnapshotMetadata(index: LogIndex(9), term: Term(1), confState: ConfState()), data: image)))])
        let started = await eventually { (t1.stats.peers[NodeID(2)]?.snapshotChunksSent ?? 0) > 0 }
        try await Task.sleep(for: .milliseconds(500))
        let chunksWhileStalled = t1.stats.peers[NodeID(2)]?.snapshotChunksSent ?? 0
        let statusBeforeClose = cluster.recorders[NodeID(1)]!.events.contains { if case .snapshotStatus = $0 { true } else { false } }
        for channel in accepted.all { try? await channel.close() }
        let failed = await eventually { cluster.recorders[NodeID(1)]!.events.contains(.snapshotStatus(NodeID(2), succeeded: false)) }
        await cluster.shutdown()
        try await stalled.close()
        XCTAssertTrue(started)
        XCTAssertLessThan(chunksWhileStalled, 128, "chunks are written only as the connection drains")
        XCTAssertFalse(statusBeforeClose, "no outcome while the stream is stalled")
        XCTAssertTrue(failed, "the interrupted stream is reported as failed")
    }
}

/// Channels a raw test server accepted, so the test can close them.
final class AcceptedChannels: Sendable {
    private let channels = Mutex<[any Channel]>([])
    func add(_ channel: any Channel) { channels.withLock { $0.append(channel) } }
    var all: [any Channel] { channels.withLock { $0 } }
}
