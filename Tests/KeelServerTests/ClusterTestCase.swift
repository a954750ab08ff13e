import Foundation
import XCTest

/// A test case that runs one real cluster: ``startCluster()`` starts it and waits for a leader,
/// and tearDown kills every process, also after a failure.
class ClusterTestCase: XCTestCase {
    /// How long a fresh cluster may take to elect a leader.
    static let electionTimeLimitSeconds = 30.0
    var harness: ClusterHarness?

    override func tearDown() {
        harness?.shutdown()
        harness = nil
        super.tearDown()
    }

    /// Starts a three-node cluster of the binaries under test and waits for its leader.
    func startCluster() throws -> (ClusterHarness, ClusterLeader) {
        let cluster = try ClusterHarness(nodesCount: 3, binaries: try ClusterBinaries.locate(), testName: name)
        harness = cluster
        try cluster.startAll()
        return (cluster, try cluster.waitForLeader(timeLimitSeconds: Self.electionTimeLimitSeconds))
    }
}
