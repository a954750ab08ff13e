import Foundation
import GRPCCore
import KeelNode
import KeelProto
import XCTest

@testable import KeelServer

/// etcd's request checks at the gRPC layer, with its error texts.
final class RequestValidationTests: XCTestCase {
    private let validation = RequestValidation()

    private func assertInvalid(_ message: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws(RPCError) -> Void) {
        do {
            try body()
            XCTFail("accepted; expected \(message)", file: file, line: line)
        } catch {
            XCTAssertEqual(error.code, .invalidArgument, file: file, line: line)
            XCTAssertEqual(error.message, message, file: file, line: line)
        }
    }

    private func put(_ key: String, value: String = "v") -> Etcdserverpb_RequestOp {
        var op = Etcdserverpb_RequestOp()
        op.request = .requestPut(.with { $0.key = Data(key.utf8); $0.value = Data(value.utf8) })
        return op
    }

    private func delete(_ key: String, _ end: [UInt8] = []) -> Etcdserverpb_RequestOp {
        var op = Etcdserverpb_RequestOp()
        op.request = .requestDeleteRange(.with { $0.key = Data(key.utf8); $0.rangeEnd = Data(end) })
        return op
    }

    private func nested(success: [Etcdserverpb_RequestOp], failure: [Etcdserverpb_RequestOp] = []) -> Etcdserverpb_RequestOp {
        var op = Etcdserverpb_RequestOp()
        op.request = .requestTxn(.with { $0.success = success; $0.failure = failure })
        return op
    }

    func testEmptyKeysAreRefused() {
        assertInvalid("etcdserver: key is not provided") { () throws(RPCError) in try validation.range(Etcdserverpb_RangeRequest()) }
        assertInvalid("etcdserver: key is not provided") { () throws(RPCError) in try validation.put(Etcdserverpb_PutRequest()) }
        assertInvalid("etcdserver: key is not provided") { () throws(RPCError) in try validation.deleteRange(Etcdserverpb_DeleteRangeRequest()) }
        assertInvalid("etcdserver: key is not provided") { () throws(RPCError) in
            try validation.txn(.with { $0.success = [self.put("")] })
        }
    }

    func testPutFlagsConflictingWithValuesAreRefused() throws {
        assertInvalid("etcdserver: value is provided") { () throws(RPCError) in
            try validation.put(.with { $0.key = Data("k".utf8); $0.value = Data("v".utf8); $0.ignoreValue = true })
        }
        assertInvalid("etcdserver: lease is provided") { () throws(RPCError) in
            try validation.put(.with { $0.key = Data("k".utf8); $0.lease = 5; $0.ignoreLease = true })
        }
        try validation.put(.with { $0.key = Data("k".utf8); $0.ignoreValue = true })
    }

    func testUnknownSortOptionsAreRefused() throws {
        assertInvalid("etcdserver: invalid sort option") { () throws(RPCError) in
            try validation.range(.with { $0.key = Data("k".utf8); $0.sortOrder = .UNRECOGNIZED(7) })
        }
        assertInvalid("etcdserver: invalid sort option") { () throws(RPCError) in
            try validation.range(.with { $0.key = Data("k".utf8); $0.sortTarget = .UNRECOGNIZED(9) })
        }
        try validation.range(.with { $0.key = Data("k".utf8); $0.sortOrder = .descend; $0.sortTarget = .value })
    }

    func testTooManyTxnOperationsAreRefused() throws {
        let max = RequestValidation.txnOperationsMax
        try validation.txn(.with { $0.success = (0..<max).map { self.put("k\($0)") } })
        assertInvalid("etcdserver: too many operations in txn request") { () throws(RPCError) in
            try validation.txn(.with { $0.failure = (0...max).map { self.put("k\($0)") } })
        }
        assertInvalid("etcdserver: too many operations in txn request") { () throws(RPCError) in
            try validation.txn(.with { $0.compare = (0...max).map { i in .with { $0.key = Data("k\(i)".utf8) } } })
        }
    }

    func testKeysWrittenTwiceInOneBranchAreRefused() throws {
        let duplicate = "etcdserver: duplicate key given in txn request"
        assertInvalid(duplicate) { () throws(RPCError) in try validation.txn(.with { $0.success = [self.put("a"), self.put("a")] }) }
        assertInvalid(duplicate) { () throws(RPCError) in try validation.txn(.with { $0.success = [self.put("b"), self.delete("a", Array("c".utf8))] }) }
        assertInvalid(duplicate) { () throws(RPCError) in try validation.txn(.with { $0.failure = [self.delete("a", [0]), self.put("zz")] }) }
        assertInvalid(duplicate) { () throws(RPCError) in
            try validation.txn(.with { $0.success = [self.put("a"), self.nested(success: [], failure: [self.put("a")])] })
        }
        // The same key in the two branches, or in a nested txn's two branches, is fine: one runs.
        try validation.txn(.with { $0.success = [self.put("a")]; $0.failure = [self.put("a")] })
        try validation.txn(.with { $0.success = [self.nested(success: [self.put("a")], failure: [self.put("a")])] })
        try validation.txn(.with { $0.success = [self.put("c"), self.delete("a", Array("c".utf8))] })
    }

    func testEmptyOperationsAndUnknownComparesAreRefused() {
        assertInvalid(EtcdMessage.emptyRequestOp) { () throws(RPCError) in try validation.txn(.with { $0.success = [Etcdserverpb_RequestOp()] }) }
        assertInvalid(EtcdMessage.invalidCompare) { () throws(RPCError) in
            try validation.txn(.with { $0.compare = [.with { $0.key = Data("k".utf8); $0.target = .UNRECOGNIZED(8) }] })
        }
    }

    func testRangeContainment() {
        XCTAssertTrue(RequestValidation.range(start: Data("a".utf8), end: Data(), contains: Data("a".utf8)))
        XCTAssertFalse(RequestValidation.range(start: Data("a".utf8), end: Data(), contains: Data("ab".utf8)))
        XCTAssertTrue(RequestValidation.range(start: Data("a".utf8), end: Data("b".utf8), contains: Data("ab".utf8)))
        XCTAssertFalse(RequestValidation.range(start: Data("a".utf8), end: Data("b".utf8), contains: Data("b".utf8)))
        XCTAssertTrue(RequestValidation.range(start: Data("a".utf8), end: Data([0]), contains: Data("zzz".utf8)))
        XCTAssertFalse(RequestValidation.range(start: Data("b".utf8), end: Data([0]), contains: Data("a".utf8)))
    }
}

/// KeelError codes to gRPC codes, as etcd maps its errors; the grpc-timeout header.
final class ErrorMappingTests: XCTestCase {
    func testEachNodeErrorGetsEtcdsStatusCode() {
        let expected: [(KeelError.Code, RPCError.Code)] = [
            (.unavailable, .unavailable), (.resourceExhausted, .resourceExhausted), (.invalidArgument, .invalidArgument),
            (.outOfRange, .outOfRange), (.deadlineExceeded, .deadlineExceeded), (.unknownOutcome, .unavailable),
            (.failedPrecondition, .failedPrecondition), (.notFound, .notFound), (.internal, .internalError),
        ]
        for (code, rpcCode) in expected {
            let error = ErrorMapping.rpcError(KeelError(code, "etcdserver: \(code)"))
            XCTAssertEqual(error.code, rpcCode, "\(code)")
            XCTAssertEqual(error.message, "etcdserver: \(code)", "the node's etcd text is kept")
        }
    }

    func testCancellationIsADeadlineAndRPCErrorsPassThrough() {
        XCTAssertEqual(ErrorMapping.rpcError(CancellationError()).code, .deadlineExceeded)
        let given = RPCError(code: .invalidArgument, message: "etcdserver: key is not provided")
        XCTAssertEqual(ErrorMapping.rpcError(given), given)
        struct Odd: Error {}
        XCTAssertEqual(ErrorMapping.rpcError(Odd()).code, .unknown)
    }

    func testGRPCTimeoutHeaderParses() {
        XCTAssertEqual(GRPCTimeout.parse("5S"), .seconds(5))
        XCTAssertEqual(GRPCTimeout.parse("250m"), .milliseconds(250))
        XCTAssertEqual(GRPCTimeout.parse("2M"), .seconds(120))
        XCTAssertEqual(GRPCTimeout.parse("1H"), .seconds(3_600))
        XCTAssertEqual(GRPCTimeout.parse("99999999u"), .microseconds(99_999_999))
        XCTAssertEqual(GRPCTimeout.parse("7n"), .nanoseconds(7))
        XCTAssertNil(GRPCTimeout.parse("123456789S"), "more than 8 digits")
        XCTAssertNil(GRPCTimeout.parse("S"))
        XCTAssertNil(GRPCTimeout.parse("5s"))
        XCTAssertNil(GRPCTimeout.parse("-5S"))
    }
}

final class KeepAliveStreamsTests: XCTestCase {
    func testStreamsAreBoundedPerConnectionAndInAll() {
        let streams = KeepAliveStreams(perConnectionMax: 2, totalMax: 3)
        XCTAssertNil(streams.open("ipv4:127.0.0.1:1"))
        XCTAssertNil(streams.open("ipv4:127.0.0.1:1"))
        XCTAssertEqual(
            streams.open("ipv4:127.0.0.1:1"), "etcdserver: too many lease keepalive streams on this connection (at most 2)")
        XCTAssertNil(streams.open("ipv4:127.0.0.1:2"))
        XCTAssertEqual(streams.open("ipv4:127.0.0.1:3"), "etcdserver: too many lease keepalive streams (at most 3)")
        streams.close("ipv4:127.0.0.1:1")
        XCTAssertNil(streams.open("ipv4:127.0.0.1:3"), "a closed stream frees its place")
        XCTAssertEqual(streams.count, 3)
    }
}
