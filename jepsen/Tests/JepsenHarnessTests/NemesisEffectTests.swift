import Foundation
import XCTest

@testable import JepsenHarness

#if canImport(Glibc)
    import Glibc
#endif

/// Each nemesis does what it says, observed from outside the process it hurts.
final class NemesisEffectTests: XCTestCase {
    private var lock: RunLock?
    private var cluster: TestCluster?
    private var directory = ""

    override func setUpWithError() throws {
        guard HarnessTestSupport.requireRoot() else { return }
        lock = try RunLock()
        TestNetwork.removeAll()
        directory = HarnessTestSupport.temporaryDirectory("nemesis")
    }

    override func tearDown() {
        cluster?.tearDown()
        TestNetwork.removeAll()
        lock = nil
    }

    /// A three-node network whose "servers" are `script`, started only if `start`.
    private func makeCluster(script: String?, clock: Bool = false) throws -> TestCluster {
        let binary = script.map { HarnessTestSupport.script($0, in: directory, name: "server.py") } ?? "/bin/true"
        let launch = ServerLaunch(binary: binary, fakeClockLibrary: clock ? ClockNemesis.libraryPath : nil)
        let made = TestCluster(nodeCount: 3, directory: directory, launch: launch)
        cluster = made
        if script != nil {
            try made.start()
        } else {
            try made.network.create()
        }
        return made
    }

    func testSymmetricPartitionBlocksBothWaysAndHealRestores() async throws {
        guard lock != nil else { return }
        let cluster = try makeCluster(script: nil)
        let (a, b, c) = (cluster.nodes[0], cluster.nodes[1], cluster.nodes[2])
        try PartitionNemesis.apply([(a, b), (b, a)], in: cluster)
        XCTAssertEqual(try HarnessTestSupport.udpDelivered(from: a, to: b, directory: directory), 0)
        XCTAssertEqual(try HarnessTestSupport.udpDelivered(from: b, to: a, directory: directory), 0)
        XCTAssertEqual(try HarnessTestSupport.udpDelivered(from: a, to: c, directory: directory), 20, "c is not cut off")
        _ = try await PartitionNemesis().heal(cluster)
        XCTAssertEqual(try HarnessTestSupport.udpDelivered(from: a, to: b, directory: directory), 20)
        XCTAssertEqual(try HarnessTestSupport.udpDelivered(from: b, to: a, directory: directory), 20)
    }

    func testOneWayPartitionBlocksOnlyOneDirection() throws {
        guard lock != nil else { return }
        let cluster = try makeCluster(script: nil)
        var random = SplitMix64(seed: 7)
        let (drops, description) = PartitionNemesis.plan(.oneWay, nodes: cluster.nodes, leader: nil, random: &random)
        try PartitionNemesis.apply(drops, in: cluster)
        let deaf = drops[0].to
        let other = cluster.nodes.first { $0 !== deaf }!
        XCTAssertTrue(description.contains("\(deaf.name) hears nobody"), description)
        XCTAssertEqual(try HarnessTestSupport.udpDelivered(from: other, to: deaf, directory: directory), 0)
        XCTAssertEqual(try HarnessTestSupport.udpDelivered(from: deaf, to: other, directory: directory), 20)
    }

    func testEveryShapeCutsWhatItDescribes() throws {
        guard lock != nil else { return }
        let nodes = TestCluster(nodeCount: 5, directory: directory, launch: ServerLaunch(binary: "/bin/true")).nodes
        var random = SplitMix64(seed: 3)
        func blocked(_ drops: [(from: ServerNode, to: ServerNode)], _ x: ServerNode, _ y: ServerNode) -> Bool {
            drops.contains { $0.from === x && $0.to === y }
        }
        // Halves: a majority of three that all reach each other, a minority of two cut from it both ways.
        let halves = PartitionNemesis.plan(.halves, nodes: nodes, leader: nil, random: &random).drops
        let cutOff = nodes.filter { node in nodes.contains { blocked(halves, $0, node) } }
        XCTAssertEqual(cutOff.count, 5)
        for x in nodes { for y in nodes { XCTAssertEqual(blocked(halves, x, y), blocked(halves, y, x)) } }
        let peersReached = nodes.map { x in nodes.filter { y in x !== y && !blocked(halves, x, y) }.count }
        XCTAssertEqual(peersReached.sorted(), [1, 1, 2, 2, 2])
        // Isolating the leader cuts it from all four others and nothing else.
        let leader = nodes[3]
        let isolated = PartitionNemesis.plan(.isolateLeader, nodes: nodes, leader: leader, random: &random).drops
        XCTAssertEqual(isolated.count, 8)
        XCTAssertTrue(isolated.allSatisfy { $0.from === leader || $0.to === leader })
        // Bridge: exactly one node reaches everyone, and the two sides (each a majority with it) do not meet.
        let bridge = PartitionNemesis.plan(.bridge, nodes: nodes, leader: nil, random: &random).drops
        let hubs = nodes.filter { x in !nodes.contains { y in blocked(bridge, x, y) || blocked(bridge, y, x) } }
        XCTAssertEqual(hubs.count, 1)
        XCTAssertEqual(bridge.count, 8, "two sides of two, cut both ways")
        // Ring: each node reaches exactly its two neighbours, so with itself it has a majority of five.
        let ring = PartitionNemesis.plan(.ring, nodes: nodes, leader: nil, random: &random).drops
        for x in nodes { XCTAssertEqual(nodes.filter { y in x !== y && !blocked(ring, y, x) }.count, 2) }
        // On seven nodes each reaches its four nearest: five of seven, a majority, and never all.
        let seven = TestCluster(nodeCount: 7, directory: directory, launch: ServerLaunch(binary: "/bin/true")).nodes
        let ring7 = PartitionNemesis.plan(.ring, nodes: seven, leader: nil, random: &random).drops
        for x in seven { XCTAssertEqual(seven.filter { y in x !== y && !blocked(ring7, y, x) }.count, 4) }
    }

    func testPausedNodeStopsAnsweringAndResumes() throws {
        guard lock != nil else { return }
        let cluster = try makeCluster(script: HarnessTestSupport.pongServer)
        let node = cluster.nodes[1]
        try waitForPong(node)
        XCTAssertTrue(node.pause())
        XCTAssertNil(HarnessTestSupport.ask(node.address, timeout: 1), "a stopped process must not answer")
        XCTAssertTrue(node.resume())
        XCTAssertEqual(HarnessTestSupport.ask(node.address, timeout: 2), "pong")
    }

    func testKilledNodeIsGoneAndRestartsOnANewProcess() async throws {
        guard lock != nil else { return }
        let cluster = try makeCluster(script: HarnessTestSupport.pongServer)
        let node = cluster.nodes[0]
        try waitForPong(node)
        let before = node.pid!
        XCTAssertTrue(node.kill())
        XCTAssertNil(node.pid)
        XCTAssertEqual(kill(before, 0), -1, "the killed process is gone")
        XCTAssertNil(HarnessTestSupport.ask(node.address, timeout: 1))
        _ = try await KillNemesis().heal(cluster)
        XCTAssertNotEqual(node.pid, before)
        try waitForPong(node)
    }

    func testSkewedClockRunsAtTheChosenRateAndNeverGoesBack() throws {
        guard lock != nil else { return }
        let cluster = try makeCluster(script: HarnessTestSupport.clockPrinter, clock: true)
        let node = cluster.nodes[0]
        let nemesis = try ClockNemesis(launch: ServerLaunch(binary: "/usr/bin/python3", fakeClockLibrary: ClockNemesis.libraryPath))
        Thread.sleep(forTimeInterval: 1.0)
        for rate in [2.0, 0.5] {
            try nemesis.set(node, rate: rate)
            // Let the change land, then measure over two real seconds.
            Thread.sleep(forTimeInterval: 0.3)
            let first = try lastReading(node)
            Thread.sleep(forTimeInterval: 2.0)
            let last = try lastReading(node)
            let measured = (last.monotonic - first.monotonic) / (last.real - first.real)
            XCTAssertEqual(measured, rate, accuracy: rate * 0.1, "monotonic clock rate")
            let wall = (last.wall - first.wall) / (last.real - first.real)
            XCTAssertEqual(wall, rate, accuracy: rate * 0.1, "wall clock rate")
        }
        let beforeBump = try lastReading(node)
        try nemesis.set(node, rate: 1, bump: 3)
        Thread.sleep(forTimeInterval: 0.5)
        let afterBump = try lastReading(node)
        let gained = (afterBump.monotonic - beforeBump.monotonic) - (afterBump.real - beforeBump.real)
        XCTAssertEqual(gained, 3, accuracy: 0.5, "a bump of 3 s")
        // Through every change the clock only went forward.
        let history = try readings(node)
        XCTAssertGreaterThan(history.count, 50)
        for (previous, next) in zip(history, history.dropFirst()) {
            XCTAssertGreaterThanOrEqual(next.monotonic, previous.monotonic, "monotonic clock went back")
        }
        // A second node, never touched, runs at real speed.
        let untouched = try readings(cluster.nodes[1])
        let span = untouched.last!.real - untouched.first!.real
        XCTAssertEqual((untouched.last!.monotonic - untouched.first!.monotonic) / span, 1, accuracy: 0.1)
    }

    func testClockNemesisRefusesAGoServer() throws {
        guard lock != nil else { return }
        guard FileManager.default.fileExists(atPath: "/usr/bin/etcd") else {
            XCTFail("etcd-server is not installed (scripts/install-deps installs it)")
            return
        }
        XCTAssertThrowsError(try ClockNemesis(launch: ServerLaunch(binary: "/usr/bin/etcd", fakeClockLibrary: ClockNemesis.libraryPath))) {
            XCTAssertTrue("\($0)".contains("Go program"), "\($0)")
        }
    }

    // MARK: helpers

    private struct Reading {
        var monotonic: Double
        var wall: Double
        var real: Double
    }

    private func readings(_ node: ServerNode) throws -> [Reading] {
        let text = try String(contentsOfFile: node.logPath, encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ").compactMap { Double($0) }
            return fields.count == 3 ? Reading(monotonic: fields[0], wall: fields[1], real: fields[2]) : nil
        }
    }

    private func lastReading(_ node: ServerNode) throws -> Reading {
        let all = try readings(node)
        return try XCTUnwrap(all.last, "no clock readings from \(node.name) in \(node.logPath)")
    }

    private func waitForPong(_ node: ServerNode) throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if HarnessTestSupport.ask(node.address, timeout: 0.5) == "pong" { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTFail("\(node.name) never answered pong")
    }
}
