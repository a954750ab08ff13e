import XCTest
@testable import Raft

/// Leader election (§5.2), the election restriction (§5.4.1) and persistent term and vote.
final class ElectionTests: XCTestCase {
    /// §5.2: a follower that hears nothing for an election timeout becomes candidate and, with a
    /// majority of votes, leader; everyone agrees on it.
    func testElectionTimeoutElectsOneLeader_5_2() {
        let net = TestNetwork(ids: [1, 2, 3])
        net.tickAll(times: 25)
        XCTAssertEqual(net.leaders.count, 1)
        let leader = net.leaders[0]
        for id in [1, 2, 3] as [UInt64] {
            XCTAssertEqual(net[id].status.leader, leader, "node \(id)")
            XCTAssertEqual(net[id].status.term, net[leader.rawValue].status.term)
        }
    }
}
