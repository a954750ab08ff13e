// checker-bench: how long the linearizability search takes, and how much memory it needs.
//
//   checker-bench [FIXTURES_DIR] [--only fixtures|hard|scaling] [--repeat N]
//   checker-bench --case NAME [--repeat N]      (one hard case; used by the hard section; N = 0: only
//                                                 generate it, the baseline for instruction counts)
//   checker-bench FIXTURES_DIR --only fixtures --parse-only 1   (parse without checking, likewise)
//   checker-bench --custom OPS,PROCESSES,CRASH%,READ%,VALUES,KEYS,CORRUPT-AT%,SEED   (a HardHistory of your own)
//
// Three sections: every history listed in the fixtures' expected.tsv (milliseconds per file, search
// steps, verdict against the expected one), the seeded hard cases of `hardCases` (each run in its own
// child process so that its peak RSS is its own; the median of N runs), and seeded large linearizable
// histories to show scaling. Exits 1 if any verdict differs from the expected one. Run in release.
import Foundation
import JepsenChecker

/// Peak resident set size in mebibytes (Linux reports ru_maxrss in KiB).
func peakMemoryMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

/// `text` padded with spaces to `width` characters (`%-42@` does not pad an NSString on Linux).
func pad(_ text: String, _ width: Int) -> NSString {
    (text.count >= width ? text : text + String(repeating: " ", count: width - text.count)) as NSString
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write("checker-bench: \(message)\n".data(using: .utf8)!)
    exit(2)
}

/// A named hard history with the verdict it must get.
struct HardCase {
    var name: String
    var model: String
    var history: HardHistory
    var expected: Verdict { history.corruptReadAt == nil ? .valid : .invalid }
}

/// Hard cases: cas-register histories under partitions, with many crashed writes and cas operations
/// whose outcome is unknown and few reads (see `HardHistory`). Seeds are fixed; they were picked from
/// the first few because the search before the speed-up work needed 10 ms to 4 s on each.
let hardCases: [HardCase] = [
    HardCase(name: "cas 300 ops 10 proc 40% crash A", model: "cas-register",
        history: HardHistory(operations: 300, processes: 10, crashPercent: 40, readPercent: 10, values: 10, seed: 3)),
    HardCase(name: "cas 300 ops 10 proc 40% crash B", model: "cas-register",
        history: HardHistory(operations: 300, processes: 10, crashPercent: 40, readPercent: 10, values: 100, seed: 2)),
    HardCase(name: "cas 300 ops 10 proc 40% crash C", model: "cas-register",
        history: HardHistory(operations: 300, processes: 10, crashPercent: 40, readPercent: 10, values: 100, seed: 3)),
    HardCase(name: "cas 300 ops 10 proc 30% crash", model: "cas-register",
        history: HardHistory(operations: 300, processes: 10, crashPercent: 30, readPercent: 5, values: 5, seed: 1)),
    HardCase(name: "cas 100 ops 5 proc INVALID A", model: "cas-register",
        history: HardHistory(operations: 100, processes: 5, crashPercent: 30, readPercent: 10, values: 5,
                             corruptReadAt: 0.4, seed: 2)),
    HardCase(name: "cas 100 ops 5 proc INVALID B", model: "cas-register",
        history: HardHistory(operations: 100, processes: 5, crashPercent: 30, readPercent: 10, values: 5,
                             corruptReadAt: 0.2, seed: 1)),
    HardCase(name: "cas 100 ops 5 proc INVALID C", model: "cas-register",
        history: HardHistory(operations: 100, processes: 5, crashPercent: 30, readPercent: 10, values: 100,
                             corruptReadAt: 0.3, seed: 2)),
    HardCase(name: "cas 150 ops 8 proc INVALID", model: "cas-register",
        history: HardHistory(operations: 150, processes: 8, crashPercent: 20, readPercent: 10, values: 5,
                             corruptReadAt: 0.2, seed: 2)),
    HardCase(name: "indep 3000 ops 10 proc 10 keys", model: "independent-cas-register",
        history: HardHistory(operations: 3000, processes: 10, crashPercent: 40, readPercent: 10, values: 10, keys: 10,
                             seed: 2)),
    HardCase(name: "indep 1000 ops 10 proc 10 keys INVALID", model: "independent-cas-register",
        history: HardHistory(operations: 1000, processes: 10, crashPercent: 30, readPercent: 10, values: 10, keys: 10,
                             corruptReadAt: 0.4, seed: 2)),
]

var arguments = Array(CommandLine.arguments.dropFirst())
/// Removes `name VALUE` from `arguments` and returns VALUE.
@MainActor func option(_ name: String) -> String? {
    guard let at = arguments.firstIndex(of: name), at + 1 < arguments.count else { return nil }
    let value = arguments[at + 1]
    arguments.removeSubrange(at...at + 1)
    return value
}
let repeats = max(0, Int(option("--repeat") ?? "3") ?? 3)
let only = option("--only")
/// `--parse-only 1`: read the fixtures without checking them, the baseline for instruction counts.
let parseOnly = option("--parse-only") == "1"
let singleCase = option("--case")
let clock = ContinuousClock()
var mismatches = 0

/// Runs one hard case `repeats` times and prints: name, ops, median ms, steps, verdict, peak RSS.
@MainActor func runHardCase(_ hard: HardCase) -> Never {
    let history: History
    do { history = try History(events: hard.history.make()) } catch { fail("\(hard.name): \(error)") }
    if repeats == 0 { exit(0) }  // generation only: the baseline that instruction counts subtract
    var times: [Double] = []
    var result: CheckResult?
    for _ in 0..<repeats {
        do {
            let checked = try ModelCatalog.check(history, model: hard.model, initial: .int(0), timeLimit: .seconds(600))
            times.append(milliseconds(checked.elapsed))
            result = checked
        } catch { fail("\(hard.name): \(error)") }
    }
    let checked = result!
    let steps = checked.partitions.reduce(0) { $0 + $1.searchSteps }
    let mark = checked.verdict == hard.expected ? "" : "  MISMATCH (expected \(hard.expected.rawValue))"
    print(String(format: "%@ %5d %10.2f %11d  %@ %7.1f%@", pad(hard.name, 40), history.operations.count,
        times.sorted()[times.count / 2], steps, pad(checked.verdict.rawValue, 8), peakMemoryMiB(), mark as NSString))
    exit(checked.verdict == hard.expected ? 0 : 1)
}

if let custom = option("--custom") {
    // OPS,PROCESSES,CRASH%,READ%,VALUES,KEYS(0: none),CORRUPT-AT(percent, 0: none),SEED: for choosing cases.
    let n = custom.split(separator: ",").compactMap { Int($0) }
    guard n.count == 8 else { fail("--custom needs 8 comma-separated integers") }
    runHardCase(HardCase(name: "custom \(custom)", model: n[5] > 0 ? "independent-cas-register" : "cas-register",
        history: HardHistory(operations: n[0], processes: n[1], crashPercent: n[2], readPercent: n[3], values: n[4],
                             keys: n[5] > 0 ? n[5] : nil, corruptReadAt: n[6] > 0 ? Double(n[6]) / 100 : nil, seed: UInt64(n[7]))))
}
if let singleCase {
    guard let hard = hardCases.first(where: { $0.name == singleCase }) else { fail("no case named '\(singleCase)'") }
    runHardCase(hard)
}

let directory = arguments.first ?? ProcessInfo.processInfo.environment["KEEL_FIXTURES"]
    ?? FileManager.default.currentDirectoryPath + "/../shared/fixtures/histories"

if only == nil || only == "fixtures" {
    guard let table = try? String(contentsOfFile: directory + "/expected.tsv", encoding: .utf8) else {
        fail("cannot read \(directory)/expected.tsv")
    }
    var totalCheck = Duration.zero
    var totalWithParse = Duration.zero
    var totalSteps = 0
    var slowest: (String, Double) = ("", 0)
    print("file                                                  ops    parse    check     steps  verdict")
    for row in table.split(separator: "\n").dropFirst() {
        let columns = row.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        guard columns.count == 4 else { continue }
        let parseStart = clock.now
        do {
            let text = try String(contentsOfFile: directory + "/" + columns[0], encoding: .utf8)
            let history = try History(text: text)
            let initial = try EDNReader.parse(columns[2])
            let parsed = clock.now
            if parseOnly { continue }
            let result = try ModelCatalog.check(history, model: columns[1], initial: initial, timeLimit: .seconds(60))
            let parseTime = parsed - parseStart
            totalCheck += result.elapsed
            totalWithParse += parseTime + result.elapsed
            let expected: Verdict = columns[3] == "true" ? .valid : .invalid
            let mark = result.verdict == expected ? "" : "  MISMATCH (expected \(expected.rawValue))"
            if result.verdict != expected { mismatches += 1 }
            let checkMs = milliseconds(result.elapsed)
            if checkMs > slowest.1 { slowest = (columns[0], checkMs) }
            let steps = result.partitions.reduce(0) { $0 + $1.searchSteps }
            totalSteps += steps
            print(String(format: "%@ %6d %8.2f %8.2f %9d  %@", pad(columns[0], 50), history.operations.count,
                milliseconds(parseTime), checkMs, steps, (result.verdict.rawValue + mark) as NSString))
        } catch {
            mismatches += 1
            print("\(columns[0]): ERROR \(error)")
        }
    }
    print(String(format: "fixtures: total check %.1f ms, parse+check %.1f ms, %d steps, slowest %@ %.2f ms, "
        + "peak RSS %.1f MiB, mismatches %d", milliseconds(totalCheck), milliseconds(totalWithParse), totalSteps,
        slowest.0 as NSString, slowest.1, peakMemoryMiB(), mismatches))
}

if only == nil || only == "hard" {
    print(String(format: "\nhard cases (median of %d runs, each case in its own process):", repeats))
    print("case                                       ops   check ms       steps  verdict  RSS MiB")
    fflush(nil)  // flush before the children write to the same stdout
    for hard in hardCases {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        child.arguments = ["--case", hard.name, "--repeat", String(repeats)]
        do { try child.run() } catch { fail("cannot start \(CommandLine.arguments[0]): \(error)") }
        child.waitUntilExit()
        if child.terminationStatus != 0 { mismatches += 1 }
    }
}

if only == nil || only == "scaling" {
    print("\nsynthetic linearizable histories (seeded):")
    for (label, model, operations, processes, keys) in [
        ("cas-register 1k ops, 10 processes", "cas-register", 1_000, 10, nil as Int?),
        ("cas-register 10k ops, 10 processes", "cas-register", 10_000, 10, nil),
        ("kv 100k ops, 50 processes, 100 keys", "kv", 100_000, 50, 100),
    ] {
        do {
            let history = try History(
                events: SyntheticHistory.make(operations: operations, processes: processes, keys: keys, seed: 7))
            let result = try ModelCatalog.check(history, model: model, initial: .nil, timeLimit: .seconds(60))
            let steps = result.partitions.reduce(0) { $0 + $1.searchSteps }
            if result.verdict != .valid { mismatches += 1 }
            print(String(format: "%@ %8.2f ms  %9d steps  %@", pad(label, 40), milliseconds(result.elapsed), steps,
                result.verdict.rawValue as NSString))
        } catch {
            mismatches += 1
            print("\(label): ERROR \(error)")
        }
    }
    print(String(format: "peak RSS %.1f MiB", peakMemoryMiB()))
}
exit(mismatches == 0 ? 0 : 1)
