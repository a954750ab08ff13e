@testable import KeelNode
import Raft
import XCTest

/// Member and cluster ids, and the entry envelope every replica decodes alike.
final class IdentityTests: XCTestCase {
    func testMemberIDIsStableOrderFreeAndTokenDependent() {
        let a = MemberIdentity.memberID(peerURLs: ["http://a:2380", "http://b:2380"], clusterToken: "t")
        XCTAssertEqual(a, MemberIdentity.memberID(peerURLs: ["http://b:2380", "http://a:2380"], clusterToken: "t"))
        XCTAssertNotEqual(a, MemberIdentity.memberID(peerURLs: ["http://a:2380", "http://b:2380"], clusterToken: "u"))
        XCTAssertNotEqual(a, MemberIdentity.memberID(peerURLs: ["http://a:2380"], clusterToken: "t"))
        XCTAssertNotEqual(a, NodeID.none)
        let ids = [NodeID(3), NodeID(1)]
        XCTAssertEqual(
            MemberIdentity.clusterID(memberIDs: ids, clusterToken: "t"), MemberIdentity.clusterID(memberIDs: ids.reversed(), clusterToken: "t"))
        XCTAssertNotEqual(
            MemberIdentity.clusterID(memberIDs: ids, clusterToken: "t"), MemberIdentity.clusterID(memberIDs: [NodeID(1)], clusterToken: "t"))
    }

    func testEnvelopeRoundTripsAndNoOpIsNotAnEnvelope() {
        let envelope = EntryEnvelope(origin: NodeID(0xABCD_0000_0000_0001), requestID: 42, command: [1, 2, 3])
        XCTAssertEqual(EntryEnvelope(decoding: envelope.encoded()), envelope)
        XCTAssertNil(EntryEnvelope(decoding: []))
        XCTAssertNil(EntryEnvelope(decoding: [9] + Array(repeating: 0, count: 20)), "unknown version")
        XCTAssertEqual(ReadContext.decode(ReadContext.encode(7)), 7)
    }
}
