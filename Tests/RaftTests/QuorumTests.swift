import XCTest
@testable import Raft

/// Quorum arithmetic: majorities (§5.2, §5.3) and joint majorities (thesis §4.3).
final class QuorumTests: XCTestCase {
    private func ids(_ raws: [UInt64]) -> Set<NodeID> { Set(raws.map(NodeID.init)) }

    /// §5.3: the commit point is the largest index held by a majority.
    func testMajorityCommittedIsMedianOfMatches() {
        let config = MajorityConfig(ids([1, 2, 3, 4, 5]))
        let match: [UInt64: UInt64] = [1: 9, 2: 7, 3: 5, 4: 3, 5: 1]
        XCTAssertEqual(config.committed { match[$0.rawValue]! }, 5)
        let even = MajorityConfig(ids([1, 2, 3, 4]))
        // Four voters need three: the third largest of 9, 7, 5, 3.
        XCTAssertEqual(even.committed { match[$0.rawValue]! }, 5)
    }

    /// Thesis §4.3: in a joint configuration an index commits only with majorities of both halves.
    func testJointCommittedIsMinimumOfBothHalves() {
        let joint = JointConfig(ConfState(voters: ids([4, 5, 6]), votersOutgoing: ids([1, 2, 3])))
        let match: [UInt64: UInt64] = [1: 10, 2: 10, 3: 10, 4: 2, 5: 2, 6: 0]
        XCTAssertEqual(joint.committed { match[$0.rawValue] ?? 0 }, 2)
        let simple = JointConfig(ConfState(voters: ids([1, 2, 3])))
        XCTAssertEqual(simple.committed { match[$0.rawValue] ?? 0 }, 10)
    }

    /// §5.2: a candidate wins with a majority, loses once a majority is impossible, else waits.
    func testMajorityVoteResults() {
        let config = MajorityConfig(ids([1, 2, 3]))
        XCTAssertEqual(config.voteResult { $0.rawValue == 1 ? true : nil }, .pending)
        XCTAssertEqual(config.voteResult { $0.rawValue <= 2 ? true : nil }, .won)
        XCTAssertEqual(config.voteResult { $0.rawValue == 1 ? true : false }, .lost)
    }

    /// Thesis §4.3: winning the new half alone is not enough; losing either half loses.
    func testJointVoteNeedsBothHalves() {
        let joint = JointConfig(ConfState(voters: ids([4, 5, 6]), votersOutgoing: ids([1, 2, 3])))
        let newOnly: (NodeID) -> Bool? = { $0.rawValue >= 4 ? true : nil }
        XCTAssertEqual(joint.voteResult(newOnly), .pending)
        let oldRejects: (NodeID) -> Bool? = { $0.rawValue >= 4 ? true : ($0.rawValue <= 2 ? false : nil) }
        XCTAssertEqual(joint.voteResult(oldRejects), .lost)
        let both: (NodeID) -> Bool? = { [1, 2, 4, 5].contains($0.rawValue) ? true : nil }
        XCTAssertEqual(joint.voteResult(both), .won)
    }
}
