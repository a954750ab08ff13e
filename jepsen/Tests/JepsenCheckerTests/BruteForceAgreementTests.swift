import XCTest

@testable import JepsenChecker

/// The search must agree with the definition: on small random histories, compare it with a brute-force
/// checker that tries every subset of the crashed operations and every real-time-respecting order.
final class BruteForceAgreementTests: XCTestCase {
    static let historiesCount = 400
    static let operationsMax = 7

    /// How a random history is drawn.
    private struct Shape {
        var operationsMax = BruteForceAgreementTests.operationsMax
        /// Values written and read are drawn from 0..<values; few values make identical crashed calls.
        var values = 3
        /// Out of ten completions: below `okTenths` ok, then one fail, the rest info.
        var okTenths = 7
    }

    private func randomHistory(seed: UInt64, _ shape: Shape = Shape()) -> String {
        var random = SplitMix64(state: seed)
        var lines: [String] = []
        var open: [Int: (f: String, value: String)] = [:]
        var invoked = 0
        let values = shape.values
        while invoked < shape.operationsMax || !open.isEmpty {
            let idle = (0..<3).filter { open[$0] == nil }
            let shouldInvoke = invoked < shape.operationsMax && !idle.isEmpty && (open.isEmpty || Bool.random(using: &random))
            if shouldInvoke {
                let process = idle.randomElement(using: &random)!
                let (f, value): (String, String) = switch Int.random(in: 0..<3, using: &random) {
                case 0: ("read", "nil")
                case 1: ("write", String(Int.random(in: 0..<values, using: &random)))
                default: ("cas", "[\(Int.random(in: 0..<values, using: &random)) \(Int.random(in: 0..<values, using: &random))]")
                }
                open[process] = (f, value)
                invoked += 1
                lines.append("{:process \(process) :type :invoke :f :\(f) :value \(value)}")
                continue
            }
            let process = open.keys.sorted().randomElement(using: &random)!
            let (f, value) = open.removeValue(forKey: process)!
            let roll = Int.random(in: 0..<10, using: &random)
            if roll == 0 && invoked == shape.operationsMax { continue }  // leave it unanswered
            let type = roll < shape.okTenths ? "ok" : roll < shape.okTenths + 1 ? "fail" : "info"
            let result = f == "read" && type == "ok" ? String(Int.random(in: 0..<values, using: &random)) : value
            lines.append("{:process \(process) :type :\(type) :f :\(f) :value \(result)}")
        }
        return lines.joined(separator: "\n")
    }

    /// Linearizable by definition: some subset of the unknown operations, in some order that respects
    /// real time, replays legally from the initial state.
    private func bruteForce(_ history: History, model: CASRegister) -> Bool {
        let operations = history.operations.filter { $0.outcome != .fail }
        let unknown = operations.filter { $0.outcome == .info }.map(\.id)
        let end = history.events.count
        func completes(_ operation: HistoryOperation) -> Int { operation.outcome == .ok ? operation.completeEvent! : end }
        for mask in 0..<(1 << unknown.count) {
            let dropped = Set(unknown.enumerated().filter { mask & (1 << $0.offset) != 0 }.map(\.element))
            let included = operations.filter { !dropped.contains($0.id) }
            var used = Array(repeating: false, count: included.count)
            func search(_ state: Value, _ placed: Int) -> Bool {
                if placed == included.count { return true }
                for (index, candidate) in included.enumerated() where !used[index] {
                    // Every unplaced operation that completed before this one was invoked must come first.
                    let blocked = included.indices.contains { other in
                        !used[other] && other != index && completes(included[other]) < candidate.invokeEvent
                    }
                    if blocked { continue }
                    guard case .legal(let next) = model.step(state, candidate) else { continue }
                    used[index] = true
                    if search(next, placed + 1) { return true }
                    used[index] = false
                }
                return false
            }
            if search(model.initialState, 0) { return true }
        }
        return false
    }

    func testSearchAgreesWithBruteForceOnRandomHistories() throws {
        let model = CASRegister(initial: .int(0))
        var verdicts: [Verdict: Int] = [:]
        for seed in 1...UInt64(Self.historiesCount) {
            let text = randomHistory(seed: seed)
            let history = try History(text: text)
            let expected: Verdict = bruteForce(history, model: model) ? .valid : .invalid
            let actual = try Checker.check(history, model: model).verdict
            verdicts[actual, default: 0] += 1
            XCTAssertEqual(actual, expected, "seed \(seed):\n\(text)")
            if actual != expected { return }
        }
        XCTAssertGreaterThan(verdicts[.valid] ?? 0, Self.historiesCount / 10, "the generator should produce valid histories")
        XCTAssertGreaterThan(verdicts[.invalid] ?? 0, Self.historiesCount / 10, "and invalid ones")
    }

    /// Most operations crash and values repeat, so crashed operations pile up, many of them the same
    /// call: the search's rules for unknown results (never tried as no-ops, not applied where they
    /// change nothing, only the earliest of identical pending calls tried) must not change a verdict.
    func testSearchAgreesWithBruteForceWhenMostOperationsCrash() throws {
        let model = CASRegister(initial: .int(0))
        let shape = Shape(operationsMax: 8, values: 2, okTenths: 4)
        var verdicts: [Verdict: Int] = [:]
        for seed in 1...UInt64(Self.historiesCount) {
            let text = randomHistory(seed: seed &+ 1_000_000, shape)
            let history = try History(text: text)
            let expected: Verdict = bruteForce(history, model: model) ? .valid : .invalid
            let actual = try Checker.check(history, model: model).verdict
            verdicts[actual, default: 0] += 1
            XCTAssertEqual(actual, expected, "seed \(seed &+ 1_000_000):\n\(text)")
            if actual != expected { return }
        }
        XCTAssertGreaterThan(verdicts[.valid] ?? 0, Self.historiesCount / 10, "the generator should produce valid histories")
        XCTAssertGreaterThan(verdicts[.invalid] ?? 0, Self.historiesCount / 20, "and invalid ones")
    }
}
