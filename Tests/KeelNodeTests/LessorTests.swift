import KeelStorage
import XCTest

@testable import KeelNode

/// The lessor alone, in machine time: when checkpoints fall due, and what a new primary gives.
final class LessorTests: XCTestCase {
    private func seconds(_ value: Double) -> Duration { .milliseconds(Int((value * 1000).rounded())) }

    /// Runs the primary's timers every 100 ms from `start` to `end` (seconds) and applies every
    /// checkpoint at once.
    private func run(_ lessor: inout Lessor, from start: Double, to end: Double) -> [LeaseCheckpoint] {
        var proposed: [LeaseCheckpoint] = []
        for milliseconds in stride(from: Int((start * 1000).rounded()), through: Int((end * 1000).rounded()), by: 100) {
            let due = lessor.due(now: .milliseconds(milliseconds), revokeLimit: 100, revokeRetry: .seconds(2), checkpointLimit: 1000)
            proposed += due.checkpoint
            lessor.checkpointed(due.checkpoint)
        }
        return proposed
    }

    func testAShortLeaseIsCheckpointedAfterHalfItsTTLAndALongOneAfterTheInterval() {
        var lessor = Lessor(checkpointInterval: .seconds(5), grace: .seconds(1))
        lessor.promote(now: .zero)
        lessor.granted(id: 1, ttlSeconds: 4, now: .zero)
        lessor.granted(id: 2, ttlSeconds: 60, now: .zero)
        let early = run(&lessor, from: 0, to: 1.9)
        XCTAssertEqual(early, [], "nothing is due before half of the shortest TTL")
        let atHalf = run(&lessor, from: 2.0, to: 2.0)
        XCTAssertEqual(atHalf.map(\.id), [1], "the 4 s lease after 2 s idle")
        XCTAssertEqual(atHalf.first?.remainingMilliseconds, 2000)
        let atInterval = run(&lessor, from: 2.1, to: 5.0)
        XCTAssertEqual(atInterval.map(\.id), [2], "the 60 s lease after the 5 s interval")
        XCTAssertEqual(atInterval.first?.remainingMilliseconds, 55_000)
    }

    func testAnHourLongLeaseIsCheckpointedEveryTwentiethOfItsTTL() {
        var lessor = Lessor(checkpointInterval: .seconds(5), grace: .seconds(1))
        lessor.promote(now: .zero)
        lessor.granted(id: 1, ttlSeconds: 3600, now: .zero)
        XCTAssertEqual(run(&lessor, from: 0, to: 179.9), [], "not every 5 s: that would cost a million leases 200,000 checkpoints a second")
        XCTAssertEqual(run(&lessor, from: 180, to: 180).map(\.remainingMilliseconds), [3_420_000])
    }

    func testANewPrimaryGivesAtMostOneCheckpointIntervalMoreThanWasLeft() {
        // The old primary counted 3.9 s of a 4 s lease; its last checkpoint (at 2 s) said 2 s left.
        var old = Lessor(checkpointInterval: .seconds(5), grace: .milliseconds(500))
        old.promote(now: .zero)
        old.granted(id: 1, ttlSeconds: 4, now: .zero)
        let recorded = run(&old, from: 0, to: 3.9)
        XCTAssertEqual(recorded.map(\.remainingMilliseconds), [2000])
        var new = Lessor(checkpointInterval: .seconds(5), grace: .milliseconds(500))
        new.load([LeaseRecord(id: 1, ttlSeconds: 4, checkpointedMilliseconds: recorded.last?.remainingMilliseconds, keyCount: 0)], now: seconds(4))
        new.promote(now: seconds(4))
        XCTAssertEqual(new.timeToLive(1, now: seconds(4))?.remaining, .seconds(2), "what the log says, not the whole TTL")
    }

    func testAnExpiryIsRevokedAgainAfterTheRetryButCountedOnce() {
        var lessor = Lessor(checkpointInterval: .seconds(5), grace: .seconds(1))
        lessor.promote(now: .zero)
        lessor.granted(id: 1, ttlSeconds: 2, now: .zero)
        func revokes(at seconds: Double) -> [Int64] {
            lessor.due(now: .milliseconds(Int(seconds * 1000)), revokeLimit: 100, revokeRetry: .seconds(2), checkpointLimit: 0).revoke
        }
        XCTAssertEqual(revokes(at: 1.9), [])
        XCTAssertEqual(revokes(at: 2.0), [1])
        XCTAssertTrue(lessor.expiryProposed(1))
        XCTAssertEqual(revokes(at: 3.9), [], "the revoke has until the retry to apply")
        XCTAssertEqual(revokes(at: 4.0), [1], "not applied: proposed again")
        XCTAssertFalse(lessor.expiryProposed(1), "but counted once")
        XCTAssertEqual(lessor.renew(1, now: .milliseconds(4100)), .notFound, "an expired lease cannot be renewed")
    }
}
