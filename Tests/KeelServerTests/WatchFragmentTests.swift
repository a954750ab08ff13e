import Foundation
import KeelProto
import KeelStorage
import XCTest

@testable import KeelServer

/// etcd's `fragment`: a response too large is split into pieces under the limit, every piece but
/// the last marked, and no event lost, repeated or reordered; one event over the limit goes alone.
final class WatchFragmentTests: XCTestCase {
    static func event(_ index: Int, bytes: Int) -> Mvccpb_Event {
        WatchSession.event(
            KVEvent(
                kind: .put,
                kv: KeyValue(key: Array("k\(index)".utf8), createRevision: 2, modRevision: Int64(2 + index), version: 1,
                    value: [UInt8](repeating: 0x61, count: bytes), lease: 0),
                prevKv: nil))
    }

    func testALargeResponseIsSplitUnderTheLimitWithEveryPieceButTheLastMarked() throws {
        var response = Etcdserverpb_WatchResponse()
        response.watchID = 3
        response.header.revision = 40
        let events = (0..<30).map { Self.event($0, bytes: 100) }
        let pieces = WatchSession.fragments(of: response, events: events, bytesMax: 1_000)
        XCTAssertGreaterThan(pieces.count, 2)
        XCTAssertEqual(pieces.map(\.fragment), Array(repeating: true, count: pieces.count - 1) + [false])
        XCTAssertEqual(pieces.flatMap(\.events), events)
        for piece in pieces {
            XCTAssertEqual(piece.watchID, 3)
            XCTAssertEqual(piece.header.revision, 40)
            let size = try piece.events.reduce(0) { $0 + (try $1.serializedBytes() as [UInt8]).count }
            XCTAssertLessThanOrEqual(size, 1_000)
        }
    }

    func testAnEventOverTheLimitGoesAloneAndASmallResponseIsNotSplit() {
        let big = Self.event(0, bytes: 5_000)
        let small = Self.event(1, bytes: 10)
        let pieces = WatchSession.fragments(of: Etcdserverpb_WatchResponse(), events: [small, big, small], bytesMax: 1_000)
        XCTAssertEqual(pieces.map(\.events.count), [1, 1, 1])
        XCTAssertEqual(pieces.map(\.fragment), [true, true, false])
        let whole = WatchSession.fragments(of: Etcdserverpb_WatchResponse(), events: [small, small], bytesMax: 1_000)
        XCTAssertEqual(whole.count, 1)
        XCTAssertFalse(whole[0].fragment)
    }
}
