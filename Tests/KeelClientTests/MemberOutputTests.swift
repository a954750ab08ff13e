import KeelClient
import XCTest

/// Expected texts are what etcdctl 3.4.23 printed for the same answers from a real etcd 3.4.23
/// (three members on loopback; the [member] section of the etcdctl golden recording), so kvctl's
/// member commands print what etcdctl prints.
final class MemberOutputTests: XCTestCase {
    static let clusterID: UInt64 = 5_221_711_665_392_971_207  // 48773f180742edc7
    static let node1: UInt64 = 1_231_828_280_617_209_426  // 1118554b72780e52
    static let node3: UInt64 = 1_339_072_882_212_501_282
    static let node2: UInt64 = 15_859_664_172_309_875_048
    static let learner: UInt64 = 6_093_725_933_180_467_616

    let simple = EtcdctlPrinter(format: .simple)
    let json = EtcdctlPrinter(format: .json)
    let table = EtcdctlPrinter(format: .table)

    var header: ResponseHeader {
        var header = ResponseHeader()
        header.clusterID = Self.clusterID
        header.memberID = Self.node1
        header.raftTerm = 2
        return header
    }

    func member(_ id: UInt64, _ name: String, peer: [String], client: [String] = [], learner: Bool = false) -> Member {
        var member = Member()
        member.id = id
        member.name = name
        member.peerUrls = peer
        member.clientUrls = client
        member.isLearner = learner
        return member
    }

    /// The three started members and the learner, in etcd's order (by id).
    var members: [Member] {
        [
            member(Self.node1, "node1", peer: ["http://127.0.0.1:41012"], client: ["http://127.0.0.1:41011"]),
            member(Self.node3, "node3", peer: ["http://127.0.0.1:41032"], client: ["http://127.0.0.1:41031"]),
            member(Self.learner, "", peer: ["http://127.0.0.1:19004"], learner: true),
            member(Self.node2, "node2", peer: ["http://127.0.0.1:41022"], client: ["http://127.0.0.1:41021"]),
        ]
    }

    static let membersJSON =
        #"[{"ID":1231828280617209426,"name":"node1","peerURLs":["http://127.0.0.1:41012"],"clientURLs":["http://127.0.0.1:41011"]},"#
        + #"{"ID":1339072882212501282,"name":"node3","peerURLs":["http://127.0.0.1:41032"],"clientURLs":["http://127.0.0.1:41031"]},"#
        + #"{"ID":6093725933180467616,"peerURLs":["http://127.0.0.1:19004"],"isLearner":true},"#
        + #"{"ID":15859664172309875048,"name":"node2","peerURLs":["http://127.0.0.1:41022"],"clientURLs":["http://127.0.0.1:41021"]}]"#
    static let headerJSON = #"{"cluster_id":5221711665392971207,"member_id":1231828280617209426,"raft_term":2}"#

    func testAddPrintsTheSameLineForALearnerAsForAVoterThenTheNewMembersEnvironment() throws {
        var response = MemberAddResponse()
        response.header = header
        response.member = member(Self.learner, "", peer: ["http://127.0.0.1:19004"], learner: true)
        response.members = members
        XCTAssertEqual(try simple.memberAdd(response).stdout, "Member 5491437345ceb9a0 added to cluster 48773f180742edc7\n")
        response.member.isLearner = false
        XCTAssertEqual(try simple.memberAdd(response).stdout, "Member 5491437345ceb9a0 added to cluster 48773f180742edc7\n")
        XCTAssertTrue(simple.memberAddPrintsEnvironment)
        XCTAssertEqual(
            simple.memberAddEnvironment(name: "learner3", peerURLs: "http://127.0.0.1:19004", newMemberID: Self.learner, members: members).stdout,
            """

            ETCD_NAME="learner3"
            ETCD_INITIAL_CLUSTER="node1=http://127.0.0.1:41012,node3=http://127.0.0.1:41032,learner3=http://127.0.0.1:19004,node2=http://127.0.0.1:41022"
            ETCD_INITIAL_ADVERTISE_PEER_URLS="http://127.0.0.1:19004"
            ETCD_INITIAL_CLUSTER_STATE="existing"

            """)
    }

    func testTheEnvironmentListsEveryPeerURLAndAMemberNotStartedUnderItsEmptyName() {
        // As etcd printed for voter1 while an earlier learner had not started: pairs in list order,
        // the flag's text as given.
        let members = [
            member(Self.node1, "node1", peer: ["http://127.0.0.1:41012"]),
            member(7, "", peer: ["http://127.0.0.1:47099"], learner: true),
            member(8, "", peer: ["http://127.0.0.1:19005", "http://127.0.0.1:19006"]),
        ]
        XCTAssertEqual(
            simple.memberAddEnvironment(name: "voter1", peerURLs: "http://127.0.0.1:19006,http://127.0.0.1:19005", newMemberID: 8, members: members)
                .stdout,
            """

            ETCD_NAME="voter1"
            ETCD_INITIAL_CLUSTER="node1=http://127.0.0.1:41012,=http://127.0.0.1:47099,voter1=http://127.0.0.1:19005,voter1=http://127.0.0.1:19006"
            ETCD_INITIAL_ADVERTISE_PEER_URLS="http://127.0.0.1:19006,http://127.0.0.1:19005"
            ETCD_INITIAL_CLUSTER_STATE="existing"

            """)
    }

    func testAddInJSONIsTheResponseAlone() throws {
        var response = MemberAddResponse()
        response.header = header
        response.member = member(Self.learner, "", peer: ["http://127.0.0.1:19004"], learner: true)
        response.members = members
        XCTAssertEqual(
            try json.memberAdd(response).stdout,
            #"{"header":"# + Self.headerJSON + #","member":{"ID":6093725933180467616,"peerURLs":["http://127.0.0.1:19004"],"isLearner":true},"#
                + #""members":"# + Self.membersJSON + "}\n")
        XCTAssertFalse(json.memberAddPrintsEnvironment)
        XCTAssertFalse(table.memberAddPrintsEnvironment)
    }

    func testRemoveUpdateAndPromoteNameTheMemberGiven() throws {
        var removed = MemberRemoveResponse()
        removed.header = header
        removed.members = members
        var updated = MemberUpdateResponse()
        updated.header = header
        updated.members = members
        var promoted = MemberPromoteResponse()
        promoted.header = header
        promoted.members = members
        let id: UInt64 = 0x9bf3_ea6e_7878_7ba5
        XCTAssertEqual(try simple.memberRemove(id: id, removed).stdout, "Member 9bf3ea6e78787ba5 removed from cluster 48773f180742edc7\n")
        XCTAssertEqual(try simple.memberUpdate(id: id, updated).stdout, "Member 9bf3ea6e78787ba5 updated in cluster 48773f180742edc7\n")
        XCTAssertEqual(try simple.memberPromote(id: id, promoted).stdout, "Member 9bf3ea6e78787ba5 promoted in cluster 48773f180742edc7\n")
        let expected = #"{"header":"# + Self.headerJSON + #","members":"# + Self.membersJSON + "}\n"
        XCTAssertEqual(try json.memberRemove(id: id, removed).stdout, expected)
        XCTAssertEqual(try json.memberUpdate(id: id, updated).stdout, expected)
        XCTAssertEqual(try json.memberPromote(id: id, promoted).stdout, expected)
    }

    func testIdsShorterThanSixteenDigitsArePaddedWithSpacesAsGosPercent16x() throws {
        var response = MemberRemoveResponse()
        response.header.clusterID = 0x1f
        XCTAssertEqual(try simple.memberRemove(id: 0xabc, response).stdout, "Member              abc removed from cluster               1f\n")
        XCTAssertEqual(EtcdctlMemberID.padded(UInt64.max), "ffffffffffffffff")
        XCTAssertEqual(EtcdctlMemberID.padded(0), "               0")
    }

    func testTableIsNotAFormatOfTheseCommands() {
        for print in [
            { try self.table.memberAdd(MemberAddResponse()) }, { try self.table.memberRemove(id: 1, MemberRemoveResponse()) },
            { try self.table.memberUpdate(id: 1, MemberUpdateResponse()) }, { try self.table.memberPromote(id: 1, MemberPromoteResponse()) },
        ] as [() throws -> CommandOutput] {
            XCTAssertThrowsError(try print()) { error in
                XCTAssertEqual(error as? EtcdctlUsageError, EtcdctlUsageError("table not supported as output format", exitCode: 4))
            }
        }
    }

    func testMemberIDArgumentsAreUnsignedHexWithEtcdctlsMessages() {
        XCTAssertEqual(try EtcdctlMemberID.parseArgument("9bf3ea6e78787ba5"), 0x9bf3_ea6e_7878_7ba5)
        XCTAssertEqual(try EtcdctlMemberID.parseArgument("ffffffffffffffff"), UInt64.max)
        let refused = [
            ("zz", "invalid syntax"), ("12g4", "invalid syntax"), ("-1", "invalid syntax"), ("+1", "invalid syntax"),
            ("", "invalid syntax"), ("1ffffffffffffffff", "value out of range"),
        ]
        for (text, reason) in refused {
            XCTAssertThrowsError(try EtcdctlMemberID.parseArgument(text)) { error in
                XCTAssertEqual(
                    error as? EtcdctlUsageError,
                    EtcdctlUsageError("bad member ID arg (strconv.ParseUint: parsing \"\(text)\": \(reason)), expecting ID in Hex"))
            }
        }
    }
}
