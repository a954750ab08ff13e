import Raft
import XCTest

@testable import KeelNode

/// The member registry's encodings and the leader's guard rails on membership changes (etcd's
/// checks and texts), judged without a cluster. The process tests (MembershipProcessTests) run
/// the same changes on real kvd processes.
final class MembershipRulesTests: XCTestCase {
    let one = NodeID(1), two = NodeID(2), three = NodeID(3), four = NodeID(4)

    func registry(learner: NodeID? = nil) -> MemberRegistry {
        var members = [one, two, three].map { MemberRegistry.Member(id: $0, name: "n\($0)", peerURLs: ["http://10.0.0.\($0):2380"], isLearner: false) }
        if let learner { members.append(.init(id: learner, name: "", peerURLs: ["http://10.0.0.\(learner):2380"], isLearner: true)) }
        return MemberRegistry(members)
    }

    func conf(learner: NodeID? = nil) -> ConfState { ConfState(voters: [one, two, three], learners: learner.map { [$0] } ?? []) }

    func replication(active: [NodeID], matches: [NodeID: UInt64] = [:]) -> [NodeID: ReplicationStatus] {
        var result: [NodeID: ReplicationStatus] = [:]
        for id in [one, two, three, four] {
            result[id] = ReplicationStatus(match: LogIndex(matches[id] ?? 100), recentlyActive: active.contains(id), isLearner: id == four)
        }
        return result
    }

    func judge(_ change: MembershipChange, learner: NodeID? = nil, active: [NodeID]? = nil, matches: [NodeID: UInt64] = [:]) -> String? {
        do {
            try NodeMachine.judge(
                change, registry: registry(learner: learner), conf: conf(learner: learner),
                replication: replication(active: active ?? [one, two, three, four], matches: matches), leaderLastIndex: LogIndex(100))
            return nil
        } catch {
            return error.message
        }
    }

    func testTheRegistryAndTheChangeSurviveTheirEncodingsAndGarbageIsRefused() {
        let original = registry(learner: four)
        XCTAssertEqual(MemberRegistry(decoding: original.encoded()), original)
        XCTAssertNil(MemberRegistry(decoding: Array(original.encoded().dropLast())))
        XCTAssertNil(MemberRegistry(decoding: original.encoded() + [0]))
        var change = MembershipChange(action: .add, member: four, peerURLs: ["http://a:1", "http://b:2"], isLearner: true)
        change.origin = two
        change.requestID = 77
        XCTAssertEqual(MembershipChange(decoding: change.encoded()), change)
        XCTAssertNil(MembershipChange(decoding: [9] + change.encoded().dropFirst()))
        XCTAssertEqual(change.confChange.changes, [ConfChangeSingle(type: .addLearner, node: four)])
    }

    func testApplyingChangesToTheRegistry() {
        let added = registry().applying(MembershipChange(action: .add, member: four, peerURLs: ["http://d:2380"], isLearner: true))
        XCTAssertEqual(added.member(four)?.isLearner, true)
        XCTAssertEqual(added.member(withPeerURLs: ["http://d:2380"])?.id, four)
        let promoted = added.applying(MembershipChange(action: .promote, member: four))
        XCTAssertEqual(promoted.member(four)?.isLearner, false)
        let moved = promoted.applying(MembershipChange(action: .update, member: two, peerURLs: ["http://e:2380"]))
        XCTAssertEqual(moved.member(two)?.peerURLs, ["http://e:2380"])
        XCTAssertNil(moved.applying(MembershipChange(action: .remove, member: two)).member(two))
    }

    func testAddIsRefusedForAKnownPeerURLASecondLearnerOrTooFewStartedMembers() {
        XCTAssertNil(judge(MembershipChange(action: .add, member: four, peerURLs: ["http://10.0.0.4:2380"], isLearner: true)))
        XCTAssertEqual(
            judge(MembershipChange(action: .add, member: four, peerURLs: ["http://10.0.0.2:2380"])), "etcdserver: Peer URLs already exists")
        XCTAssertEqual(
            judge(MembershipChange(action: .add, member: NodeID(5), peerURLs: ["http://x:1"], isLearner: true), learner: four),
            "etcdserver: too many learner members in cluster")
        XCTAssertEqual(judge(MembershipChange(action: .add, member: four, peerURLs: [])), "etcdserver: given member URLs are invalid")
        // Three voters, one down: a fourth voter (not running yet) would leave 2 of 4 active, below a quorum of 3.
        XCTAssertEqual(
            judge(MembershipChange(action: .add, member: four, peerURLs: ["http://x:1"]), active: [one, two]),
            "etcdserver: re-configuration failed due to not enough started members")
        // A learner adds no vote: it is accepted all the same.
        XCTAssertNil(judge(MembershipChange(action: .add, member: four, peerURLs: ["http://x:1"], isLearner: true), active: [one, two]))
    }

    /// etcd's exception: a one-member cluster may add a voter (it has no other way to grow).
    func testAOneMemberClusterMayAddAVoter() throws {
        let alone = MemberRegistry([.init(id: one, name: "n1", peerURLs: ["http://a:1"], isLearner: false)])
        try NodeMachine.judge(
            MembershipChange(action: .add, member: two, peerURLs: ["http://b:1"]), registry: alone, conf: ConfState(voters: [one]),
            replication: [one: ReplicationStatus(match: LogIndex(5), recentlyActive: true, isLearner: false)], leaderLastIndex: LogIndex(5))
    }

    func testRemoveIsRefusedForAnUnknownMemberOrWhenTheRestCannotFormAQuorum() {
        XCTAssertEqual(judge(MembershipChange(action: .remove, member: NodeID(9))), "etcdserver: member not found")
        XCTAssertNil(judge(MembershipChange(action: .remove, member: three)))
        // Two of three active; removing an active one leaves one active of two voters: no quorum.
        XCTAssertEqual(
            judge(MembershipChange(action: .remove, member: two), active: [one, two]),
            "etcdserver: re-configuration failed due to not enough started members")
        // Removing the one that is down is fine.
        XCTAssertNil(judge(MembershipChange(action: .remove, member: three), active: [one, two]))
    }

    func testPromoteNeedsALearnerThatCaughtUp() {
        XCTAssertEqual(judge(MembershipChange(action: .promote, member: two), learner: four), "etcdserver: can only promote a learner member")
        XCTAssertEqual(
            judge(MembershipChange(action: .promote, member: four), learner: four, matches: [four: 89]),
            "etcdserver: can only promote a learner member which is in sync with leader")
        XCTAssertNil(judge(MembershipChange(action: .promote, member: four), learner: four, matches: [four: 90]))
    }

    func testUpdateIsRefusedForAnotherMembersURL() {
        XCTAssertNil(judge(MembershipChange(action: .update, member: two, peerURLs: ["http://new:2380"])))
        XCTAssertEqual(
            judge(MembershipChange(action: .update, member: two, peerURLs: ["http://10.0.0.3:2380"])), "etcdserver: Peer URLs already exists")
        XCTAssertEqual(judge(MembershipChange(action: .update, member: NodeID(9), peerURLs: ["http://x:1"])), "etcdserver: member not found")
    }

    func testTheMembershipAnswerCarriesTheClusterAndItsMembers() {
        var bytes: [UInt8] = []
        appendBigEndian(UInt64(0xabc), to: &bytes)
        bytes += registry().encoded()
        let decoded = KeelNode.decodeMembershipAnswer(bytes)
        XCTAssertEqual(decoded?.clusterID, 0xabc)
        XCTAssertEqual(decoded?.members, registry())
        XCTAssertNil(KeelNode.decodeMembershipAnswer(Array(bytes.prefix(8))))
    }
}
