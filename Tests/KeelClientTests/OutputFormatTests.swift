import KeelClient
import XCTest

/// Expected texts are what etcdctl 3.4.23 printed for the same responses from a real etcd 3.4.23
/// (a one-member cluster on loopback), so the tests hold kvctl to etcdctl's output.
final class OutputFormatTests: XCTestCase {
    static let clusterID: UInt64 = 324_952_591_200_643_719
    static let memberID: UInt64 = 3_319_814_642_761_637_952

    func header(revision: Int64) -> ResponseHeader {
        var header = ResponseHeader()
        header.clusterID = Self.clusterID
        header.memberID = Self.memberID
        header.revision = revision
        header.raftTerm = 2
        return header
    }

    func keyValue(_ key: String, _ value: String, create: Int64, mod: Int64, version: Int64) -> KeyValue {
        var kv = KeyValue()
        kv.key = Data(key.utf8)
        kv.value = Data(value.utf8)
        kv.createRevision = create
        kv.modRevision = mod
        kv.version = version
        return kv
    }

    func testGetSimpleJSONAndNoTable() throws {
        var response = RangeResponse()
        response.header = header(revision: 3)
        response.kvs = [keyValue("foo", "bar", create: 2, mod: 2, version: 1)]
        response.count = 1

        XCTAssertEqual(try EtcdctlPrinter(format: .simple).get(response).stdout, "foo\nbar\n")
        XCTAssertEqual(try EtcdctlPrinter(format: .simple, valueOnly: true).get(response).stdout, "bar\n")
        XCTAssertEqual(
            try EtcdctlPrinter(format: .json).get(response).stdout,
            #"{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":3,"raft_term":2},"kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":2,"version":1,"value":"YmFy"}],"count":1}"#
                + "\n")
        XCTAssertThrowsError(try EtcdctlPrinter(format: .table).get(response)) { error in
            XCTAssertEqual(error as? EtcdctlUsageError, EtcdctlUsageError("table not supported as output format", exitCode: 4))
        }
    }

    func testKeysOnlyPrintsAnEmptyValueLine() throws {
        var response = RangeResponse()
        var kv = KeyValue()
        kv.key = Data("foo".utf8)
        response.kvs = [kv]
        XCTAssertEqual(try EtcdctlPrinter(format: .simple).get(response).stdout, "foo\n\n")
    }

    func testPutAndDeleteWithPreviousValues() throws {
        var put = PutResponse()
        put.header = header(revision: 5)
        put.prevKv = keyValue("foo", "bar", create: 2, mod: 2, version: 1)
        XCTAssertEqual(try EtcdctlPrinter(format: .simple).put(put).stdout, "OK\nfoo\nbar\n")

        var plainPut = PutResponse()
        plainPut.header = header(revision: 5)
        XCTAssertEqual(
            try EtcdctlPrinter(format: .json).put(plainPut).stdout,
            #"{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":5,"raft_term":2}}"#
                + "\n")

        var delete = DeleteRangeResponse()
        delete.deleted = 1
        delete.prevKvs = [keyValue("foo2", "bar 2", create: 3, mod: 3, version: 1)]
        XCTAssertEqual(try EtcdctlPrinter(format: .simple).delete(delete).stdout, "1\nfoo2\nbar 2\n")
        XCTAssertEqual(try EtcdctlPrinter(format: .simple).delete(DeleteRangeResponse()).stdout, "0\n")
    }

    func testTxnSimpleAndJSON() throws {
        var txn = TxnResponse()
        txn.header = header(revision: 9)
        txn.succeeded = true
        var put = ResponseOp()
        put.responsePut = PutResponse()
        var range = ResponseOp()
        var rangeResponse = RangeResponse()
        rangeResponse.kvs = [keyValue("a", "11", create: 7, mod: 9, version: 2)]
        range.responseRange = rangeResponse
        var delete = ResponseOp()
        var deleteResponse = DeleteRangeResponse()
        deleteResponse.deleted = 1
        delete.responseDeleteRange = deleteResponse
        txn.responses = [put, range, delete]
        XCTAssertEqual(try EtcdctlPrinter(format: .simple).txn(txn).stdout, "SUCCESS\n\nOK\n\na\n11\n\n1\n")

        var failed = TxnResponse()
        failed.header = header(revision: 9)
        var emptyRange = RangeResponse()
        emptyRange.header.revision = 9
        var op = ResponseOp()
        op.responseRange = emptyRange
        failed.responses = [op]
        XCTAssertEqual(
            try EtcdctlPrinter(format: .json).txn(failed).stdout,
            #"{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":9,"raft_term":2},"responses":[{"Response":{"ResponseRange":{"header":{"revision":9}}}}]}"#
                + "\n")
        XCTAssertEqual(try EtcdctlPrinter(format: .simple).txn(failed).stdout, "FAILURE\n\n")

        var deleted = TxnResponse()
        deleted.header = header(revision: 18)
        deleted.succeeded = true
        var nested = DeleteRangeResponse()
        nested.header.revision = 18
        nested.deleted = 1
        nested.prevKvs = [keyValue("t1", "v", create: 17, mod: 17, version: 1)]
        var deleteOp = ResponseOp()
        deleteOp.responseDeleteRange = nested
        deleted.responses = [deleteOp]
        XCTAssertEqual(
            try EtcdctlPrinter(format: .json).txn(deleted).stdout,
            #"{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":18,"raft_term":2},"succeeded":true,"responses":[{"Response":{"ResponseDeleteRange":{"header":{"revision":18},"deleted":1,"prev_kvs":[{"key":"dDE=","create_revision":17,"mod_revision":17,"version":1,"value":"dg=="}]}}}]}"#
                + "\n")
    }

    func memberList() -> MemberListResponse {
        var response = MemberListResponse()
        response.header = header(revision: 0)
        var member = Member()
        member.id = Self.memberID
        member.name = "c1"
        member.peerUrls = ["http://127.0.0.1:23800"]
        member.clientUrls = ["http://127.0.0.1:23790"]
        response.members = [member]
        return response
    }

    func testMemberListInEveryFormat() {
        XCTAssertEqual(
            EtcdctlPrinter(format: .simple).memberList(memberList()).stdout,
            "2e1259d415f2a040, started, c1, http://127.0.0.1:23800, http://127.0.0.1:23790, false\n")
        XCTAssertEqual(
            EtcdctlPrinter(format: .json).memberList(memberList()).stdout,
            #"{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"raft_term":2},"members":[{"ID":3319814642761637952,"name":"c1","peerURLs":["http://127.0.0.1:23800"],"clientURLs":["http://127.0.0.1:23790"]}]}"#
                + "\n")
        XCTAssertEqual(
            EtcdctlPrinter(format: .table).memberList(memberList()).stdout,
            """
            +------------------+---------+------+------------------------+------------------------+------------+
            |        ID        | STATUS  | NAME |       PEER ADDRS       |      CLIENT ADDRS      | IS LEARNER |
            +------------------+---------+------+------------------------+------------------------+------------+
            | 2e1259d415f2a040 | started |   c1 | http://127.0.0.1:23800 | http://127.0.0.1:23790 |      false |
            +------------------+---------+------+------------------------+------------------------+------------+

            """)
    }

    func testAMemberWithoutANameIsUnstarted() {
        var response = MemberListResponse()
        var member = Member()
        member.id = 0xabc
        member.peerUrls = ["http://10.0.0.9:2380", "http://10.0.0.9:2381"]
        member.isLearner = true
        response.members = [member]
        XCTAssertEqual(
            EtcdctlPrinter(format: .simple).memberList(response).stdout,
            "abc, unstarted, , http://10.0.0.9:2380,http://10.0.0.9:2381, , true\n")
    }

    func status() -> EndpointStatus {
        var status = StatusResponse()
        status.header = header(revision: 8)
        status.version = "3.4.23"
        status.dbSize = 20480
        status.leader = Self.memberID
        status.raftIndex = 12
        status.raftTerm = 2
        status.raftAppliedIndex = 12
        status.dbSizeInUse = 16384
        return EndpointStatus(endpoint: "127.0.0.1:23790", status: status)
    }

    func testEndpointStatusInEveryFormat() {
        XCTAssertEqual(
            EtcdctlPrinter(format: .simple).endpointStatus([status()]).stdout,
            "127.0.0.1:23790, 2e1259d415f2a040, 3.4.23, 20 kB, true, false, 2, 12, 12, \n")
        XCTAssertEqual(
            EtcdctlPrinter(format: .json).endpointStatus([status()]).stdout,
            #"[{"Endpoint":"127.0.0.1:23790","Status":{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":8,"raft_term":2},"version":"3.4.23","dbSize":20480,"leader":3319814642761637952,"raftIndex":12,"raftTerm":2,"raftAppliedIndex":12,"dbSizeInUse":16384}}]"#
                + "\n")
        XCTAssertEqual(
            EtcdctlPrinter(format: .table).endpointStatus([status()]).stdout,
            """
            +-----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+
            |    ENDPOINT     |        ID        | VERSION | DB SIZE | IS LEADER | IS LEARNER | RAFT TERM | RAFT INDEX | RAFT APPLIED INDEX | ERRORS |
            +-----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+
            | 127.0.0.1:23790 | 2e1259d415f2a040 |  3.4.23 |   20 kB |      true |      false |         2 |         12 |                 12 |        |
            +-----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+

            """)
    }

    func testEndpointHealthInEveryFormat() {
        let healthy = EndpointHealth(endpoint: "127.0.0.1:23790", healthy: true, took: .nanoseconds(1_556_428), error: "")
        let sick = EndpointHealth(
            endpoint: "127.0.0.1:1", healthy: false, took: .seconds(5), error: "context deadline exceeded")
        let simple = EtcdctlPrinter(format: .simple).endpointHealth([healthy, sick])
        XCTAssertEqual(simple.stdout, "", "etcdctl prints health on standard error")
        XCTAssertEqual(
            simple.stderr,
            "127.0.0.1:23790 is healthy: successfully committed proposal: took = 1.556428ms\n"
                + "127.0.0.1:1 is unhealthy: failed to commit proposal: context deadline exceeded\n")
        XCTAssertEqual(
            EtcdctlPrinter(format: .json).endpointHealth([healthy, sick]).stdout,
            #"[{"endpoint":"127.0.0.1:23790","health":true,"took":"1.556428ms"},{"endpoint":"127.0.0.1:1","health":false,"took":"5s","error":"context deadline exceeded"}]"#
                + "\n")
        XCTAssertEqual(
            EtcdctlPrinter(format: .table).endpointHealth([healthy]).stdout,
            """
            +-----------------+--------+------------+-------+
            |    ENDPOINT     | HEALTH |    TOOK    | ERROR |
            +-----------------+--------+------------+-------+
            | 127.0.0.1:23790 |   true | 1.556428ms |       |
            +-----------------+--------+------------+-------+

            """)
    }

    func testHumanBytesLikeEtcdctl() {
        XCTAssertEqual(EtcdctlPrinter.humanBytes(0), "0 B")
        XCTAssertEqual(EtcdctlPrinter.humanBytes(9), "9 B")
        XCTAssertEqual(EtcdctlPrinter.humanBytes(512), "512 B")
        XCTAssertEqual(EtcdctlPrinter.humanBytes(1500), "1.5 kB")
        XCTAssertEqual(EtcdctlPrinter.humanBytes(20480), "20 kB")
        XCTAssertEqual(EtcdctlPrinter.humanBytes(2_500_000), "2.5 MB")
        // 123.5 rounds to even, as Go's %.0f does.
        XCTAssertEqual(EtcdctlPrinter.humanBytes(123_456_789), "124 MB")
        XCTAssertEqual(EtcdctlPrinter.humanBytes(122_456_789), "122 MB")
    }

    func testGoDurationFormatting() {
        XCTAssertEqual(EtcdctlPrinter.goDuration(.zero), "0s")
        XCTAssertEqual(EtcdctlPrinter.goDuration(.nanoseconds(999)), "999ns")
        XCTAssertEqual(EtcdctlPrinter.goDuration(.microseconds(850)), "850µs")
        XCTAssertEqual(EtcdctlPrinter.goDuration(.nanoseconds(1_556_428)), "1.556428ms")
        XCTAssertEqual(EtcdctlPrinter.goDuration(.milliseconds(2500)), "2.5s")
        XCTAssertEqual(EtcdctlPrinter.goDuration(.seconds(90)), "1m30s")
        XCTAssertEqual(EtcdctlPrinter.goDuration(.seconds(3600)), "1h0m0s")
    }

    func testGoDurationParsing() throws {
        XCTAssertEqual(try GoDuration.parse("2s"), .seconds(2))
        XCTAssertEqual(try GoDuration.parse("500ms"), .milliseconds(500))
        XCTAssertEqual(try GoDuration.parse("1m30s"), .seconds(90))
        XCTAssertEqual(try GoDuration.parse("1.5s"), .milliseconds(1500))
        XCTAssertThrowsError(try GoDuration.parse("5")) { XCTAssertTrue("\($0)".contains("unknown unit"), "\($0)") }
        XCTAssertThrowsError(try GoDuration.parse("abc")) { XCTAssertTrue("\($0)".contains("\"abc\""), "\($0)") }
        XCTAssertThrowsError(try GoDuration.parse("48h")) { XCTAssertTrue("\($0)".contains("longer than"), "\($0)") }
    }

    func testJSONEscapesLikeGo() throws {
        var response = MemberListResponse()
        var member = Member()
        member.name = "a<b>&\"c\"\n\u{1}"
        response.members = [member]
        XCTAssertEqual(
            EtcdctlPrinter(format: .json).memberList(response).stdout,
            #"{"members":[{"name":"a\u003cb\u003e\u0026\"c\"\n\u0001"}]}"# + "\n")
    }
}
