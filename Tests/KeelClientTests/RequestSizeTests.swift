import Foundation
import GRPCCore
import KeelClient
import KeelProto
import XCTest

/// A request too large for the server's gRPC layer fails in the client, as in etcd's client, with
/// the code and text that say so, instead of being sent and cut off by a stream reset.
final class RequestSizeTests: XCTestCase {
    private func configuration(_ ports: [Int], requestBytesMax: Int = KeelClientConfiguration.requestMessageBytesMaxDefault)
        -> KeelClientConfiguration
    {
        KeelClientConfiguration(
            endpoints: ports.map { Endpoint(host: "127.0.0.1", port: $0) }, requestMessageBytesMax: requestBytesMax)
    }

    func testErrorsPrintAsEtcdctlPrintsThem() {
        // Recorded from etcdctl 3.4.23 putting a 3,000,000-byte value: the client-side refusal.
        let oversized = KeelClientError(code: .resourceExhausted, message: "trying to send message larger than max (3000010 vs. 2097152)")
        XCTAssertEqual(
            oversized.etcdctlDescription,
            "rpc error: code = ResourceExhausted desc = trying to send message larger than max (3000010 vs. 2097152)")
        let unimplemented = KeelClientError(code: .unimplemented, message: "unknown method")
        XCTAssertEqual(unimplemented.etcdctlDescription, "rpc error: code = Unimplemented desc = unknown method")
        // etcd's own errors are printed as their text, whatever their code.
        let compacted = KeelClientError(code: .outOfRange, message: "etcdserver: mvcc: required revision has been compacted")
        XCTAssertEqual(compacted.etcdctlDescription, "etcdserver: mvcc: required revision has been compacted")
        let timeout = KeelClientError(code: .deadlineExceeded, message: "context deadline exceeded")
        XCTAssertEqual(timeout.etcdctlDescription, "context deadline exceeded")
    }

    func testTheDefaultLimitIsEtcdsClientLimit() {
        XCTAssertEqual(KeelClientConfiguration.requestMessageBytesMaxDefault, 2_097_152)
    }

    func testAnOversizedPutNeverLeavesTheClient() async throws {
        let server = FakeKV(memberID: 3)
        try await withFakeServers([server]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                let big = String(repeating: "x", count: 2_097_152)
                do {
                    _ = try await client.put("k", big)
                    XCTFail("a put over the limit should fail")
                } catch let error as KeelClientError {
                    XCTAssertEqual(error.code, .resourceExhausted)
                    // The value with its tag and 4-byte length, the key with its tag and length.
                    XCTAssertEqual(error.message, "trying to send message larger than max (2097160 vs. 2097152)")
                    XCTAssertTrue(error.attempts.isEmpty, "no endpoint was tried")
                }
                // Just under the limit it is sent (and the server's own limit decides).
                let fits = try await client.put("k", String(repeating: "x", count: 2_097_144))
                XCTAssertEqual(fits.header.memberID, 3)
            }
        }
        XCTAssertEqual(server.callCount, 1, "only the request within the limit reached the server")
    }

    func testTheLimitCoversTransactionsAndDeletesAndIsConfigurable() async throws {
        let server = FakeKV(memberID: 4)
        try await withFakeServers([server]) { ports in
            try await KeelClient.withClient(configuration(ports, requestBytesMax: 1_000)) { client in
                var put = Etcdserverpb_PutRequest()
                put.key = Data("k".utf8)
                put.value = Data(repeating: 1, count: 1_000)
                var op = Etcdserverpb_RequestOp()
                op.requestPut = put
                var txn = Etcdserverpb_TxnRequest()
                txn.success = [op]
                var delete = Etcdserverpb_DeleteRangeRequest()
                delete.key = Data(repeating: 2, count: 1_001)
                for (name, call) in [
                    ("txn", { _ = try await client.txn(txn) }),
                    ("delete", { _ = try await client.deleteRange(delete) }),
                ] as [(String, () async throws -> Void)] {
                    do {
                        try await call()
                        XCTFail("\(name): over the configured limit, it should fail")
                    } catch let error as KeelClientError {
                        XCTAssertEqual(error.code, .resourceExhausted, name)
                        XCTAssertTrue(error.message.hasSuffix(" vs. 1000)"), "\(name): \(error.message)")
                    }
                }
                _ = try await client.put("k", "small")
            }
        }
        XCTAssertEqual(server.callCount, 1)
    }
}
