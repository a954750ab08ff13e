import XCTest
@testable import Raft

/// Proposals are never dropped silently: refusals throw a RaftError with a code.
final class ProposalErrorTests: XCTestCase {
    /// A follower refuses with `notLeader` and names the leader, so the client can redirect.
    func testFollowerRefusesWithLeaderHint() {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        XCTAssertThrowsError(try net[2].propose([1])) { error in
            let e = error as? RaftError
            XCTAssertEqual(e?.code, .notLeader)
            XCTAssertEqual(e?.leader, NodeID(1))
        }
        XCTAssertTrue(net[2].ready().entries.isEmpty, "nothing appended")
    }

    /// Without a known leader the refusal is `noLeader`.
    func testNoLeaderRefusal() {
        let net = TestNetwork(ids: [1, 2, 3])
        XCTAssertThrowsError(try net[1].propose([1])) { error in
            XCTAssertEqual((error as? RaftError)?.code, .noLeader)
        }
        net[1].campaign()
        XCTAssertThrowsError(try net[1].propose([1])) { error in
            XCTAssertEqual((error as? RaftError)?.code, .noLeader, "a candidate has no leader either")
        }
    }

    /// The leader refuses once `uncommittedEntriesMaxBytes` are outstanding, and accepts again
    /// after they are applied. A batch is all or nothing.
    func testUncommittedLimit() throws {
        let net = TestNetwork(ids: [1, 2, 3]) { $0.uncommittedEntriesMaxBytes = 100 }
        net.elect(1)
        net.isolate(2); net.isolate(3)
        try net[1].propose([UInt8](repeating: 1, count: 60))
        XCTAssertThrowsError(try net[1].propose([UInt8](repeating: 2, count: 60))) { error in
            XCTAssertEqual((error as? RaftError)?.code, .uncommittedLimitExceeded)
        }
        let last = net[1].status.lastIndex
        XCTAssertThrowsError(try net[1].propose(batch: [[1], [UInt8](repeating: 3, count: 50)]))
        XCTAssertEqual(net[1].status.lastIndex, last, "a refused batch appends nothing")
        net.heal()
        net.stabilize()
        net.tickAll(times: 2)
        XCTAssertNoThrow(try net[1].propose([UInt8](repeating: 4, count: 60)))
    }

    /// A lone oversized proposal still goes through when nothing is outstanding (else it never could).
    func testOversizedProposalAcceptedWhenNothingOutstanding() throws {
        let net = TestNetwork(ids: [1]) { $0.uncommittedEntriesMaxBytes = 10 }
        net.elect(1)
        XCTAssertNoThrow(try net.propose(1, [UInt8](repeating: 1, count: 50)))
        XCTAssertEqual(net.host(1).applied.last?.data.count, 50)
    }
}
