import Foundation
import GRPCCore
import XCTest

@testable import KeelClient

/// The circuit breaker per endpoint and the client's retry budget: a dead member stops costing a
/// dial per call, and a failing cluster gets a bounded number of retries.
final class RetryGuardTests: XCTestCase {
    func testTheBreakerOpensAfterFailuresInARowDoublesItsCooldownAndClosesOnSuccess() {
        let breaker = EndpointBreaker()
        let start = ContinuousClock.now
        XCTAssertFalse(breaker.recordFailure(at: start))
        XCTAssertFalse(breaker.recordFailure(at: start))
        XCTAssertFalse(breaker.isOpen(at: start))
        XCTAssertTrue(breaker.recordFailure(at: start), "the third failure in a row opens it")
        XCTAssertTrue(breaker.isOpen(at: start.advanced(by: .milliseconds(499))))
        XCTAssertFalse(breaker.isOpen(at: start.advanced(by: .milliseconds(500))), "half-open after the cooldown")
        // Three more failures: open again, for twice as long.
        let later = start.advanced(by: .seconds(1))
        for _ in 0..<3 { breaker.recordFailure(at: later) }
        XCTAssertTrue(breaker.isOpen(at: later.advanced(by: .milliseconds(999))))
        XCTAssertFalse(breaker.isOpen(at: later.advanced(by: .seconds(1))))
        breaker.recordSuccess()
        XCTAssertNil(breaker.reopensAt)
        XCTAssertFalse(breaker.recordFailure(at: later), "a success starts the count again")
    }

    func testTheBreakerCooldownStopsGrowingAtItsMaximum() {
        let breaker = EndpointBreaker()
        var now = ContinuousClock.now
        for _ in 0..<40 {
            for _ in 0..<EndpointBreaker.failuresToOpen { breaker.recordFailure(at: now) }
            now = now.advanced(by: .seconds(100))
        }
        let opened = now.advanced(by: .seconds(-100))
        XCTAssertEqual(breaker.reopensAt, opened.advanced(by: EndpointBreaker.cooldownMax))
    }

    func testTheRetryBudgetAllowsRetriesWhileMoreThanHalfIsLeftAndRefillsFromSuccesses() {
        let budget = RetryBudget()
        var allowed = 0
        while budget.spend() { allowed += 1 }
        XCTAssertEqual(allowed, 5, "ten tokens, retries only above five")
        for _ in 0..<10 { budget.earn() }
        XCTAssertTrue(budget.spend(), "ten successes buy one retry back")
        XCTAssertFalse(budget.spend())
        for _ in 0..<1_000 { budget.earn() }
        XCTAssertEqual(budget.available, RetryBudget.tokensMax)
    }

    /// A hung member first in the list: once its breaker opens, calls stop waiting out its dial
    /// timeout; and with every call failing, the budget stops the retries.
    func testAHungEndpointIsSkippedOnceItsBreakerOpensAndRetriesStopWhenTheBudgetIsSpent() async throws {
        let hung = try BoundSocket(listen: true)
        let sick = FakeKV(memberID: 2, failure: RPCError(code: .unavailable, message: "etcdserver: request timed out"))
        let dial: Duration = .milliseconds(300)
        try await withFakeServers([sick]) { ports in
            let configuration = KeelClientConfiguration(
                endpoints: [Endpoint(host: "127.0.0.1", port: hung.port), Endpoint(host: "127.0.0.1", port: ports[0])],
                dialTimeout: dial, commandTimeout: .seconds(5))
            try await KeelClient.withClient(configuration) { client in
                let clock = ContinuousClock()
                var durations: [Duration] = []
                var attempts: [Int] = []
                for _ in 0..<6 {
                    let start = clock.now
                    do {
                        _ = try await client.get("k")
                        XCTFail("every endpoint fails")
                    } catch let error as KeelClientError {
                        attempts.append(error.attempts.count)
                    }
                    durations.append(start.duration(to: clock.now))
                }
                XCTAssertTrue(client.breakers[0].isOpen(at: clock.now), "three dial timeouts in a row open the hung member's breaker")
                XCTAssertGreaterThanOrEqual(durations[0], dial)
                XCTAssertLessThan(durations[5], dial, "with the breaker open, a call no longer waits for the hung member")
                XCTAssertLessThanOrEqual(client.retryBudget.available, RetryBudget.tokensMax / 2)
                XCTAssertEqual(attempts.last, 1, "with the budget spent, a failing call is not retried")
            }
        }
    }
}
