import KeelClient
import XCTest

/// Expected texts are what etcdctl 3.4.23 printed for the same answers from a real etcd 3.4.23 (one
/// member on loopback), so kvctl's lease commands print what etcdctl prints.
final class LeaseOutputTests: XCTestCase {
    static let clusterID: UInt64 = 7_222_109_305_586_615_858
    static let memberID: UInt64 = 17_767_816_877_210_000_001

    func header(revision: Int64) -> ResponseHeader {
        var header = ResponseHeader()
        header.clusterID = Self.clusterID
        header.memberID = Self.memberID
        header.revision = revision
        header.raftTerm = 2
        return header
    }

    let simple = EtcdctlPrinter(format: .simple)
    let json = EtcdctlPrinter(format: .json)

    func testGrant() throws {
        var response = LeaseGrantResponse()
        response.header = header(revision: 1)
        response.id = 6_521_672_196_198_671_880
        response.ttl = 60
        XCTAssertEqual(try simple.leaseGrant(response).stdout, "lease 5a81a24f23f6a608 granted with TTL(60s)\n")
        XCTAssertEqual(
            try json.leaseGrant(response).stdout,
            #"{"cluster_id":7222109305586615858,"member_id":17767816877210000001,"revision":1,"raft_term":2,"ID":6521672196198671880,"TTL":60,"Error":""}"#
                + "\n")
    }

    func testRevoke() throws {
        var response = LeaseRevokeResponse()
        response.header = header(revision: 5)
        XCTAssertEqual(try simple.leaseRevoke(id: 0x5a81_a24f_23f6_a61f, response).stdout, "lease 5a81a24f23f6a61f revoked\n")
        XCTAssertEqual(
            try json.leaseRevoke(id: 0x5a81_a24f_23f6_a61f, response).stdout,
            #"{"header":{"cluster_id":7222109305586615858,"member_id":17767816877210000001,"revision":5,"raft_term":2}}"# + "\n")
    }

    func timeToLive(keys: [String]) -> LeaseTimeToLiveResponse {
        var response = LeaseTimeToLiveResponse()
        response.header = header(revision: 3)
        response.id = 6_521_672_196_198_671_895
        response.ttl = 99
        response.grantedTtl = 100
        response.keys = keys.map { Data($0.utf8) }
        return response
    }

    func testTimeToLiveWithAndWithoutKeys() throws {
        XCTAssertEqual(
            try simple.leaseTimeToLive(timeToLive(keys: []), keys: false).stdout,
            "lease 5a81a24f23f6a617 granted with TTL(100s), remaining(99s)\n")
        XCTAssertEqual(
            try simple.leaseTimeToLive(timeToLive(keys: ["k1", "k2"]), keys: true).stdout,
            "lease 5a81a24f23f6a617 granted with TTL(100s), remaining(99s), attached keys([k1 k2])\n")
        XCTAssertEqual(
            try simple.leaseTimeToLive(timeToLive(keys: []), keys: true).stdout,
            "lease 5a81a24f23f6a617 granted with TTL(100s), remaining(99s), attached keys([])\n")
        XCTAssertEqual(
            try simple.leaseTimeToLive(timeToLive(keys: ["a b", "é"]), keys: true).stdout,
            "lease 5a81a24f23f6a617 granted with TTL(100s), remaining(99s), attached keys([a b é])\n")
        XCTAssertEqual(
            try json.leaseTimeToLive(timeToLive(keys: []), keys: false).stdout,
            #"{"cluster_id":7222109305586615858,"member_id":17767816877210000001,"revision":3,"raft_term":2,"id":6521672196198671895,"ttl":99,"granted-ttl":100,"keys":null}"#
                + "\n")
        XCTAssertEqual(
            try json.leaseTimeToLive(timeToLive(keys: ["k1", "k2"]), keys: true).stdout,
            #"{"cluster_id":7222109305586615858,"member_id":17767816877210000001,"revision":3,"raft_term":2,"id":6521672196198671895,"ttl":99,"granted-ttl":100,"keys":["azE=","azI="]}"#
                + "\n")
    }

    func testTimeToLiveOfAMissingLease() throws {
        var response = LeaseTimeToLiveResponse()
        response.header = header(revision: 3)
        response.id = 0x1234
        response.ttl = -1
        XCTAssertEqual(try simple.leaseTimeToLive(response, keys: false).stdout, "lease 0000000000001234 already expired\n")
        XCTAssertEqual(try simple.leaseTimeToLive(response, keys: true).stdout, "lease 0000000000001234 already expired\n")
        XCTAssertEqual(
            try json.leaseTimeToLive(response, keys: false).stdout,
            #"{"cluster_id":7222109305586615858,"member_id":17767816877210000001,"revision":3,"raft_term":2,"id":4660,"ttl":-1,"granted-ttl":0,"keys":null}"#
                + "\n")
        response.id = -1
        XCTAssertEqual(try simple.leaseTimeToLive(response, keys: false).stdout, "lease -000000000000001 already expired\n")
    }

    func testList() throws {
        var response = LeaseLeasesResponse()
        response.header = header(revision: 3)
        response.leases = ([6_521_672_196_198_671_878, 6_521_672_196_198_671_880] as [Int64]).map { id in
            var status = LeaseStatus()
            status.id = id
            return status
        }
        XCTAssertEqual(try simple.leaseList(response).stdout, "found 2 leases\n5a81a24f23f6a606\n5a81a24f23f6a608\n")
        XCTAssertEqual(
            try json.leaseList(response).stdout,
            #"{"cluster_id":7222109305586615858,"member_id":17767816877210000001,"revision":3,"raft_term":2,"leases":[{"id":6521672196198671878},{"id":6521672196198671880}]}"#
                + "\n")
        var empty = LeaseLeasesResponse()
        empty.header = header(revision: 7)
        XCTAssertEqual(try simple.leaseList(empty).stdout, "found 0 leases\n")
        XCTAssertEqual(
            try json.leaseList(empty).stdout,
            #"{"cluster_id":7222109305586615858,"member_id":17767816877210000001,"revision":7,"raft_term":2,"leases":[]}"# + "\n")
    }

    func testKeepAliveAndItsEnd() throws {
        var response = LeaseKeepAliveResponse()
        response.header = header(revision: 3)
        response.id = 6_521_672_196_198_671_901
        response.ttl = 100
        XCTAssertEqual(try simple.leaseKeepAlive(response).stdout, "lease 5a81a24f23f6a61d keepalived with TTL(100)\n")
        XCTAssertEqual(
            try json.leaseKeepAlive(response).stdout,
            #"{"cluster_id":7222109305586615858,"member_id":17767816877210000001,"revision":3,"raft_term":2,"ID":6521672196198671901,"TTL":100}"#
                + "\n")
        XCTAssertEqual(simple.leaseKeepAliveEnded(id: 0x1234).stdout, "lease 0000000000001234 expired or revoked.\n")
        XCTAssertEqual(json.leaseKeepAliveEnded(id: 0x1234), CommandOutput(), "etcdctl prints the last line in the simple format only")
    }

    func testNoLeaseCommandHasATable() {
        let table = EtcdctlPrinter(format: .table)
        let refusal = EtcdctlUsageError("table not supported as output format", exitCode: 4)
        XCTAssertThrowsError(try table.leaseGrant(LeaseGrantResponse())) { XCTAssertEqual($0 as? EtcdctlUsageError, refusal) }
        XCTAssertThrowsError(try table.leaseRevoke(id: 1, LeaseRevokeResponse())) { XCTAssertEqual($0 as? EtcdctlUsageError, refusal) }
        XCTAssertThrowsError(try table.leaseTimeToLive(LeaseTimeToLiveResponse(), keys: false)) {
            XCTAssertEqual($0 as? EtcdctlUsageError, refusal)
        }
        XCTAssertThrowsError(try table.leaseList(LeaseLeasesResponse())) { XCTAssertEqual($0 as? EtcdctlUsageError, refusal) }
        XCTAssertThrowsError(try table.leaseKeepAlive(LeaseKeepAliveResponse())) { XCTAssertEqual($0 as? EtcdctlUsageError, refusal) }
    }

    func testLeaseIDsAndTTLsParseAsEtcdctlParsesThem() throws {
        XCTAssertEqual(try EtcdctlLeaseID.parseArgument("5a81a24f23f6a608"), 6_521_672_196_198_671_880)
        XCTAssertEqual(try EtcdctlLeaseID.parseArgument("ABC"), 0xabc)
        XCTAssertEqual(try EtcdctlLeaseID.parseArgument("+10"), 0x10)
        XCTAssertEqual(try EtcdctlLeaseID.parseArgument("-1"), -1)
        XCTAssertEqual(try EtcdctlLeaseID.parseArgument("7fffffffffffffff"), Int64.max)
        XCTAssertEqual(try EtcdctlLeaseID.parseArgument("-8000000000000000"), Int64.min)
        XCTAssertEqual(try EtcdctlLeaseID.parseTTL("9223372036854775807"), Int64.max)

        func refusal(_ body: () throws -> Int64) -> String? {
            do {
                _ = try body()
                return nil
            } catch {
                return (error as? EtcdctlUsageError).map { "\($0.exitCode) \($0.message)" }
            }
        }
        XCTAssertEqual(
            refusal { try EtcdctlLeaseID.parseArgument("zz") },
            #"128 bad lease ID arg (strconv.ParseInt: parsing "zz": invalid syntax), expecting ID in Hex"#)
        XCTAssertEqual(
            refusal { try EtcdctlLeaseID.parseArgument("ffffffffffffffff") },
            #"128 bad lease ID arg (strconv.ParseInt: parsing "ffffffffffffffff": value out of range), expecting ID in Hex"#)
        XCTAssertEqual(
            refusal { try EtcdctlLeaseID.parseArgument("0x10") },
            #"128 bad lease ID arg (strconv.ParseInt: parsing "0x10": invalid syntax), expecting ID in Hex"#)
        XCTAssertEqual(
            refusal { try EtcdctlLeaseID.parseFlag("zz") },
            #"128 bad lease ID (strconv.ParseInt: parsing "zz": invalid syntax), expecting ID in Hex"#)
        XCTAssertEqual(refusal { try EtcdctlLeaseID.parseTTL("abc") }, #"128 bad TTL (strconv.ParseInt: parsing "abc": invalid syntax)"#)
        XCTAssertEqual(refusal { try EtcdctlLeaseID.parseTTL("3.5") }, #"128 bad TTL (strconv.ParseInt: parsing "3.5": invalid syntax)"#)
        XCTAssertEqual(refusal { try EtcdctlLeaseID.parseTTL(" 5") }, #"128 bad TTL (strconv.ParseInt: parsing " 5": invalid syntax)"#)
        XCTAssertEqual(
            refusal { try EtcdctlLeaseID.parseTTL("9223372036854775808") },
            #"128 bad TTL (strconv.ParseInt: parsing "9223372036854775808": value out of range)"#)
        XCTAssertEqual(refusal { try EtcdctlLeaseID.parseTTL("") }, #"128 bad TTL (strconv.ParseInt: parsing "": invalid syntax)"#)
        XCTAssertEqual(refusal { try EtcdctlLeaseID.parseTTL("-") }, #"128 bad TTL (strconv.ParseInt: parsing "-": invalid syntax)"#)
    }

    func testLeaseIDsPrintInSixteenHexDigits() {
        XCTAssertEqual(EtcdctlLeaseID.format(0x1234), "0000000000001234")
        XCTAssertEqual(EtcdctlLeaseID.format(0), "0000000000000000")
        XCTAssertEqual(EtcdctlLeaseID.format(Int64.max), "7fffffffffffffff")
        XCTAssertEqual(EtcdctlLeaseID.format(-1), "-000000000000001")
        XCTAssertEqual(EtcdctlLeaseID.format(Int64.min), "-8000000000000000")
    }
}
