import Metrics
import Raft
import Synchronization
import XCTest

@testable import KeelTransport

/// Records every metric by label and dimensions, so a test can read what the transport reported.
final class RecordingMetrics: MetricsFactory, Sendable {
    final class Value: CounterHandler, TimerHandler, RecorderHandler, Sendable {
        private let state = Mutex<(total: Int64, samples: [Int64])>((0, []))
        func increment(by amount: Int64) { state.withLock { $0.total += amount } }
        func reset() { state.withLock { $0 = (0, []) } }
        func recordNanoseconds(_ duration: Int64) { state.withLock { $0.samples.append(duration) } }
        func record(_ value: Int64) { state.withLock { $0.samples.append(value) } }
        func record(_ value: Double) { state.withLock { $0.samples.append(Int64(value)) } }
        var total: Int64 { state.withLock { $0.total } }
        var samples: [Int64] { state.withLock { $0.samples } }
    }

    private let values = Mutex<[String: Value]>([:])

    private func key(_ label: String, _ dimensions: [(String, String)]) -> String {
        ([label] + dimensions.map { "\($0.0)=\($0.1)" }).joined(separator: " ")
    }

    private func value(_ label: String, _ dimensions: [(String, String)]) -> Value {
        values.withLock { values in
            let key = key(label, dimensions)
            if let value = values[key] { return value }
            let value = Value()
            values[key] = value
            return value
        }
    }

    /// The value of a metric, or nil if the transport never created it.
    func lookup(_ label: String, peer: NodeID? = nil) -> Value? {
        values.withLock { $0[key(label, peer.map { [("peer", $0.description)] } ?? [])] }
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { value(label, dimensions) }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler { value(label, dimensions) }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { value(label, dimensions) }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}

final class MetricsTests: XCTestCase {
    func testBytesRoundTripAndDropsAreReportedPerPeer() async throws {
        let metrics1 = RecordingMetrics()
        let metrics2 = RecordingMetrics()
        var transports: [TCPPeerTransport] = []
        for (id, metrics) in [(UInt64(1), metrics1), (2, metrics2)] {
            let transport = TCPPeerTransport(
                selfID: NodeID(id), clusterID: 7, attributes: MemberAttributes(name: "m\(id)", clientURLs: []),
                listenHost: "127.0.0.1", listenPort: 0, peers: [:], config: Cluster.fastConfig,
                logger: Cluster.logger("t\(id)"), metricsFactory: metrics)
            try await transport.start()
            transports.append(transport)
        }
        let (t1, t2) = (transports[0], transports[1])
        let recorder = EventRecorder(t2.events)
        t1.setPeers([NodeID(2): PeerAddress(host: "127.0.0.1", port: t2.boundPort!)])
        t2.setPeers([NodeID(1): PeerAddress(host: "127.0.0.1", port: t1.boundPort!)])
        t1.send((0..<20).map { numbered($0, from: 1, to: 2) })
        t1.send([numbered(0, from: 1, to: 9)])  // unknown peer: dropped
        let delivered = await eventually { recorder.messages.count == 20 }
        let probed = await eventually { !(metrics1.lookup("keel_peer_round_trip_time_seconds", peer: NodeID(2))?.samples.isEmpty ?? true) }
        // Stop traffic (probes included) before comparing counters with stats.
        recorder.stop()
        await t1.shutdown()
        await t2.shutdown()
        let stats1 = t1.stats.peers[NodeID(2)]!
        let stats2 = t2.stats.peers[NodeID(1)]!
        XCTAssertTrue(delivered)
        XCTAssertTrue(probed, "the round-trip timer recorded a probe")
        XCTAssertEqual(metrics1.lookup("keel_peer_sent_bytes_total", peer: NodeID(2))?.total, Int64(stats1.sentBytes))
        XCTAssertGreaterThan(stats1.sentBytes, 20 * 84)
        XCTAssertEqual(metrics2.lookup("keel_peer_received_bytes_total", peer: NodeID(1))?.total, Int64(stats2.receivedBytes))
        XCTAssertGreaterThan(stats2.receivedBytes, 20 * 84)
        XCTAssertEqual(metrics1.lookup("keel_peer_dropped_messages_total", peer: NodeID(9))?.total, 1)
        let rtts = metrics1.lookup("keel_peer_round_trip_time_seconds", peer: NodeID(2))?.samples ?? []
        XCTAssertTrue(rtts.allSatisfy { $0 > 0 && $0 < 10_000_000_000 }, "round trips in nanoseconds: \(rtts)")
    }
}
