import NIOCore
import NIOPosix
import Raft
import XCTest

@testable import KeelTransport

final class PeerListTests: XCTestCase {
    func testSetPeersRedialsAMovedPeerAndDropsARemovedOne() async throws {
        let cluster = Cluster()
        let t1 = try await cluster.add(1)
        let old = try await cluster.add(2)
        old.setPeers([NodeID(1): PeerAddress(host: "127.0.0.1", port: t1.boundPort!)])
        t1.setPeers([NodeID(2): PeerAddress(host: "127.0.0.1", port: old.boundPort!)])
        t1.send([numbered(1, from: 1, to: 2)])
        let first = await eventually { cluster.recorders[NodeID(2)]!.messages.count == 1 }
        XCTAssertTrue(first)
        let oldRecorder = cluster.recorders[NodeID(2)]!

        // Member 2 moves to a new listener; 1 learns the new address.
        let moved = TCPPeerTransport(
            selfID: NodeID(2), clusterID: 7, attributes: MemberAttributes(name: "m2", clientURLs: []),
            listenHost: "127.0.0.1", listenPort: 0, peers: [NodeID(1): PeerAddress(host: "127.0.0.1", port: t1.boundPort!)],
            config: Cluster.fastConfig, logger: Cluster.logger("t2-moved"))
        try await moved.start()
        let movedRecorder = EventRecorder(moved.events)
        t1.setPeers([NodeID(2): PeerAddress(host: "127.0.0.1", port: moved.boundPort!)])
        t1.send([numbered(2, from: 1, to: 2)])
        let redialled = await eventually { movedRecorder.messages == [numbered(2, from: 1, to: 2)] }

        // Member 2 is removed: messages for it are dropped and reported.
        t1.setPeers([:])
        let droppedBefore = t1.stats.peers[NodeID(2)]?.messagesDropped ?? 0
        t1.send([numbered(3, from: 1, to: 2)])
        let droppedAfter = t1.stats.peers[NodeID(2)]?.messagesDropped ?? 0

        movedRecorder.stop()
        await moved.shutdown()
        await cluster.shutdown()
        XCTAssertTrue(redialled, "delivered at the new address: \(movedRecorder.messages)")
        XCTAssertEqual(oldRecorder.messages, [numbered(1, from: 1, to: 2)], "nothing more went to the old address")
        XCTAssertEqual(droppedAfter, droppedBefore + 1)
    }

    func testUnreachableReportsAreRateLimitedUnderABurst() async throws {
        let probe = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let deadPort = probe.localAddress!.port!
        try await probe.close()
        var config = Cluster.fastConfig
        config.sendQueueMessagesMax = 10
        config.unreachableReportInterval = .seconds(60)
        config.reconnectDelayBase = .seconds(30)  // no redial during the test: only the burst reports
        config.reconnectDelayMax = .seconds(30)
        let cluster = Cluster()
        let t1 = try await cluster.add(1, config: config, peers: [NodeID(2): PeerAddress(host: "127.0.0.1", port: deadPort)])
        for n in 0..<1000 { t1.send([numbered(n, from: 1, to: 2)]) }
        let dropped = await eventually { t1.stats.peers[NodeID(2)]?.messagesDropped == 990 }
        let recorder = cluster.recorders[NodeID(1)]!
        let reported = await eventually { recorder.events.contains(.unreachable(NodeID(2))) }
        try await Task.sleep(for: .milliseconds(300))  // let any further (wrong) reports arrive
        let reports = recorder.events.filter { $0 == .unreachable(NodeID(2)) }.count
        await cluster.shutdown()
        XCTAssertTrue(dropped)
        XCTAssertTrue(reported)
        XCTAssertEqual(reports, 1, "990 drops and a failed dial, one report within the interval")
    }
}
