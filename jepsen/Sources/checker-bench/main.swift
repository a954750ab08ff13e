// checker-bench: checks every history listed in expected.tsv and prints milliseconds per file,
// the total, and the peak resident memory. Run in release:
//   swift run -c release checker-bench [fixtures dir]
import Foundation
import JepsenChecker

/// Where the fixtures are when no argument is given: KEEL_FIXTURES, else ../shared/fixtures/histories.
func fixturesDirectory() -> String {
    if CommandLine.arguments.count > 1 { return CommandLine.arguments[1] }
    if let fromEnvironment = ProcessInfo.processInfo.environment["KEEL_FIXTURES"] { return fromEnvironment }
    return FileManager.default.currentDirectoryPath + "/../shared/fixtures/histories"
}

/// Peak resident set size in mebibytes (Linux reports ru_maxrss in KiB).
func peakMemoryMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

let directory = fixturesDirectory()
guard let table = try? String(contentsOfFile: directory + "/expected.tsv", encoding: .utf8) else {
    FileHandle.standardError.write("checker-bench: cannot read \(directory)/expected.tsv\n".data(using: .utf8)!)
    exit(2)
}
let clock = ContinuousClock()
var totalCheck = Duration.zero
var totalWithParse = Duration.zero
var mismatches = 0
var slowest: (String, Double) = ("", 0)
print(String(format: "%-50@ %6@ %8@ %8@ %9@  %@", "file" as NSString, "ops" as NSString, "parse" as NSString,
    "check" as NSString, "steps" as NSString, "verdict" as NSString))
for row in table.split(separator: "\n").dropFirst() {
    let columns = row.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
    guard columns.count == 4 else { continue }
    let parseStart = clock.now
    do {
        let text = try String(contentsOfFile: directory + "/" + columns[0], encoding: .utf8)
        let history = try History(text: text)
        let initial = try EDNReader.parse(columns[2])
        let parsed = clock.now
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
        print(String(format: "%-50@ %6d %8.2f %8.2f %9d  %@", columns[0] as NSString, history.operations.count,
            milliseconds(parseTime), checkMs, steps, (result.verdict.rawValue + mark) as NSString))
    } catch {
        mismatches += 1
        print("\(columns[0]): ERROR \(error)")
    }
}
print(String(format: "total check %.1f ms, parse+check %.1f ms, slowest %@ %.2f ms, peak RSS %.1f MiB, mismatches %d",
    milliseconds(totalCheck), milliseconds(totalWithParse), slowest.0 as NSString, slowest.1, peakMemoryMiB(), mismatches))

// Synthetic histories, larger than the fixtures, to show how the search scales.
print("\nsynthetic linearizable histories (seeded):")
for (label, model, operations, processes, keys) in [
    ("cas-register 1k ops, 10 processes", "cas-register", 1_000, 10, nil as Int?),
    ("cas-register 10k ops, 10 processes", "cas-register", 10_000, 10, nil),
    ("kv 100k ops, 50 processes, 100 keys", "kv", 100_000, 50, 100),
] {
    do {
        let history = try History(events: SyntheticHistory.make(operations: operations, processes: processes, keys: keys, seed: 7))
        let result = try ModelCatalog.check(history, model: model, initial: .nil, timeLimit: .seconds(60))
        let steps = result.partitions.reduce(0) { $0 + $1.searchSteps }
        if result.verdict != .valid { mismatches += 1 }
        print(String(format: "%-40@ %8.2f ms  %9d steps  %@", label as NSString, milliseconds(result.elapsed), steps,
            result.verdict.rawValue as NSString))
    } catch {
        mismatches += 1
        print("\(label): ERROR \(error)")
    }
}
print(String(format: "peak RSS %.1f MiB", peakMemoryMiB()))
exit(mismatches == 0 ? 0 : 1)
