import JepsenChecker
import XCTest

@testable import JepsenHarness

/// The clock nemesis's own descriptions, read back as the windows that widen the lease bound.
final class ClockFaultWindowTests: XCTestCase {
    private func windows(_ lines: [String]) throws -> [LeaseChecker.ClockFault] {
        ClockNemesis.faultWindows(in: try History(text: lines.joined(separator: "\n")))
    }

    func testBumpsRatesAndStrobesBecomeBoundedWindows() throws {
        let step = ClockNemesis.rateChangeStepMax
        XCTAssertEqual(step, 0.35 * 1.5, accuracy: 1e-9)
        let found = try windows([
            "{:process :nemesis :type :info :f :start-clock :value \"bump: n1 +2.5s, n3 +0.25s\" :time 1000000000}",
            "{:process :nemesis :type :info :f :stop-clock :value \"clocks at real speed\" :time 4000000000}",
            "{:process :nemesis :type :info :f :start-clock :value \"rate: n2 x2.0\" :time 5000000000}",
            "{:process :nemesis :type :info :f :stop-clock :value \"clocks at real speed\" :time 8000000000}",
            "{:process :nemesis :type :info :f :start-clock :value \"strobe: n1 n2 flip between x2 and x0.5 every 1.0 seconds\" :time 9000000000}",
            "{:process :nemesis :type :info :f :stop-clock :value \"clocks at real speed\" :time 12500000000}",
            "{:process :nemesis :type :info :f :start-partition :value \"halves\" :time 13000000000}",
            "{:process :nemesis :type :info :f :start-clock :value \"bump: n1 +1.0s\" :time 14000000000}",
        ])
        XCTAssertEqual(found.count, 4)
        XCTAssertEqual(found[0], LeaseChecker.ClockFault(start: 1, end: 4, forwardSeconds: 2.75, changesRates: false))
        XCTAssertTrue(found[1].changesRates && found[2].changesRates)
        XCTAssertEqual(found[1].forwardSeconds, 2 * step, accuracy: 1e-9, "one change when injected, one at the heal")
        // 3.5 s of strobe: 4 flips, plus the first change and the heal, on two nodes.
        XCTAssertEqual(found[2].forwardSeconds, 6 * 2 * step, accuracy: 1e-9)
        XCTAssertEqual(found[3].start, 14)
        XCTAssertEqual(found[3].end, .infinity, "a fault never healed lasts to the end")
    }

    func testADescriptionItCannotReadCountsAsUnbounded() throws {
        let found = try windows([
            "{:process :nemesis :type :info :f :start-clock :value \"bump: n1 +soon\" :time 0}",
            "{:process :nemesis :type :info :f :stop-clock :value \"clocks at real speed\" :time 1000000000}",
        ])
        XCTAssertEqual(found.first?.forwardSeconds, .infinity)
    }
}
