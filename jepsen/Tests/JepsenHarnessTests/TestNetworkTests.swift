import Foundation
import XCTest

@testable import JepsenHarness

/// The namespaces, bridge and addresses come up as described and go away completely.
final class TestNetworkTests: XCTestCase {
    private var lock: RunLock?

    override func setUpWithError() throws {
        guard HarnessTestSupport.requireRoot() else { return }
        lock = try RunLock()
        TestNetwork.removeAll()
    }

    override func tearDown() {
        TestNetwork.removeAll()
        lock = nil
    }

    func testCreateGivesEachNodeANamespaceAnAddressAndALinkToTheBridge() throws {
        guard lock != nil else { return }
        let network = TestNetwork(nodeCount: 3)
        try network.create()
        XCTAssertEqual(Set(TestNetwork.existingNamespaces()), ["keelj-n1", "keelj-n2", "keelj-n3"])
        XCTAssertEqual(Set(TestNetwork.existingLinks()), ["keelj0", "keelj-v1", "keelj-v2", "keelj-v3"])
        for index in 0..<3 {
            let addresses = try Subprocess.check(["ip", "-n", TestNetwork.namespace(index), "-4", "-o", "addr", "show", "dev", "eth0"])
            XCTAssertTrue(addresses.contains(TestNetwork.address(index) + "/24"), addresses)
        }
        // Node to node and root namespace to node, over the bridge.
        let directory = HarnessTestSupport.temporaryDirectory("network")
        let cluster = TestCluster(nodeCount: 3, directory: directory, launch: ServerLaunch(binary: "/bin/true"))
        XCTAssertEqual(try HarnessTestSupport.udpDelivered(from: cluster.nodes[0], to: cluster.nodes[2], directory: directory), 20)
    }

    func testRemoveAllLeavesNothingAndKillsProcessesInTheNamespaces() throws {
        guard lock != nil else { return }
        try TestNetwork(nodeCount: 2).create()
        let directory = HarnessTestSupport.temporaryDirectory("remove")
        let sleeper = try Subprocess.start(["ip", "netns", "exec", "keelj-n2", "sleep", "300"], logPath: directory + "/sleep.log")
        let removed = TestNetwork.removeAll()
        XCTAssertTrue(removed.contains("process \(sleeper) in keelj-n2"), "\(removed)")
        XCTAssertEqual(HarnessTestSupport.leftovers(), [])
        // The sleeper was killed (and reaped by removeAll, so it is gone, not a zombie).
        XCTAssertEqual(kill(sleeper, 0), -1)
        // Removing again is harmless.
        XCTAssertEqual(TestNetwork.removeAll(), [])
    }

    func testASecondRunIsRefusedWhileTheLockIsHeld() throws {
        guard lock != nil else { return }
        XCTAssertThrowsError(try RunLock()) { error in
            XCTAssertTrue("\(error)".contains("another jepsen test is running"), "\(error)")
        }
    }
}
