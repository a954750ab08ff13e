// The `jepsen` command: runs partition tests against real clusters, checks recorded histories,
// and converts between EDN and JSON Lines.
import ArgumentParser
import Foundation
import JepsenChecker
import JepsenHarness

/// Exit statuses, so scripts can tell a violation from a tool failure.
enum ExitStatus {
    static let valid: Int32 = 0
    static let invalid: Int32 = 1
    static let unknown: Int32 = 2
    /// The input could not be read or made no sense (distinct from ArgumentParser's 64 for bad flags).
    static let badInput: Int32 = 3
}

/// Writes `message` and a newline to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Reads a history file, failing with exit status 3 and the reason.
func readHistoryText(_ path: String) throws -> String {
    do {
        return try String(contentsOfFile: path, encoding: .utf8)
    } catch {
        printError("jepsen: cannot read \(path): \(error.localizedDescription)")
        throw ExitCode(ExitStatus.badInput)
    }
}

@main
struct Jepsen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Keel's Jepsen tools: partition tests against real clusters, and checkers for recorded histories.",
        subcommands: [TestCommand.self, Check.self, Convert.self, Clean.self])
}

/// `jepsen check`: the verdict, as text or JSON, and optionally an HTML report.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a history (EDN or JSON Lines) for linearizability.",
        discussion: "Exit status: 0 valid, 1 invalid, 2 unknown (time limit), 3 unreadable or malformed input.")

    @Option(help: "The model: \(ModelCatalog.names.joined(separator: ", ")); prefix with independent- for [key value] tuples checked per key. Or a whole-history checker: set-full (the set workload), list-append (the append workload, strict serializability), lease (the lease workload), watch (the watch workload) or lock (the lock workload, with fencing).")
    var model = "cas-register"

    @Option(help: "The initial state as EDN, e.g. 0, nil (absent key), or {:x 0 :y 0}.")
    var initial: String?

    @Flag(help: "Print the verdict as JSON.")
    var json = false

    @Option(help: "Also write a self-contained HTML report to this path.")
    var html: String?

    @Option(help: "Give up after this many seconds and answer unknown.")
    var timeout: Double?

    @Argument(help: "The history file.")
    var history: String

    func run() throws {
        if ["set-full", "list-append", "lease", "watch", "lock"].contains(model) { return try runHistoryChecker() }
        let text = try readHistoryText(history)
        let result: CheckResult
        let parsed: History
        var initialValue: Value?
        do {
            if let initial { initialValue = try EDNReader.parse(initial) }
            parsed = try History(text: text)
            result = try ModelCatalog.check(
                parsed, model: model, initial: initialValue, timeLimit: timeout.map { .milliseconds(Int($0 * 1000)) })
        } catch {
            printError("jepsen: \(history): \(error)")
            throw ExitCode(ExitStatus.badInput)
        }
        print(json ? TextReport.json(result, history: parsed, name: history) : TextReport.summary(result, history: parsed, name: history))
        if let html {
            let page = HTMLReport.render(result, history: parsed, name: history)
            do {
                try page.write(toFile: html, atomically: true, encoding: .utf8)
            } catch {
                printError("jepsen: cannot write \(html): \(error.localizedDescription)")
                throw ExitCode(ExitStatus.badInput)
            }
        }
        switch result.verdict {
        case .valid: return
        case .invalid: throw ExitCode(ExitStatus.invalid)
        case .unknown: throw ExitCode(ExitStatus.unknown)
        }
    }
}

extension Check {
    /// The set-full, list-append, lease, watch and lock checkers, which judge a whole history rather than search a model.
    func runHistoryChecker() throws {
        let text = try readHistoryText(history)
        let verdict: Verdict
        let summary: String
        let jsonText: String
        let parsed: History
        do {
            parsed = try History(text: text)
            if model == "set-full" {
                let result = try SetChecker.check(parsed)
                (verdict, summary, jsonText) = (result.verdict, result.summary, result.json)
            } else if model == "watch" {
                let result = try WatchChecker.check(parsed)
                (verdict, summary, jsonText) = (result.verdict, result.summary, result.json)
            } else if model == "lock" {
                let result = try LockChecker.check(parsed)
                (verdict, summary, jsonText) = (result.verdict, result.summary, result.json)
            } else if model == "lease" {
                let bound = ClockNemesis.leaseBound(LeaseChecker.Bound(), widenedFor: parsed)
                let result = try LeaseChecker.check(parsed, bound: bound)
                (verdict, summary, jsonText) = (result.verdict, result.summary, result.json)
            } else {
                let result = try ListAppendChecker.check(parsed, timeLimit: timeout.map { .milliseconds(Int($0 * 1000)) })
                (verdict, summary, jsonText) = (result.verdict, result.summary, result.json)
            }
        } catch {
            printError("jepsen: \(history): \(error)")
            throw ExitCode(ExitStatus.badInput)
        }
        print(json ? jsonText : summary)
        if let html {
            let page = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>\(RunPlots.escape(model))</title>"
                + "<style>\(RunPlots.css)</style></head><body><h1>\(RunPlots.escape(model)): \(verdict.rawValue)</h1>"
                + "<pre>\(RunPlots.escape(summary))</pre><h2>Latency</h2>\(RunPlots.latency(parsed))"
                + "<h2>Throughput</h2>\(RunPlots.throughput(parsed))</body></html>"
            do {
                try page.write(toFile: html, atomically: true, encoding: .utf8)
            } catch {
                printError("jepsen: cannot write \(html): \(error.localizedDescription)")
                throw ExitCode(ExitStatus.badInput)
            }
        }
        switch verdict {
        case .valid: return
        case .invalid: throw ExitCode(ExitStatus.invalid)
        case .unknown: throw ExitCode(ExitStatus.unknown)
        }
    }
}

/// `jepsen convert`: rewrites a history as EDN or JSON Lines.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Convert a history between EDN and JSON Lines.")

    @Option(help: "Output format: edn or jsonl.")
    var to = "jsonl"

    @Argument(help: "The history file.")
    var history: String

    func run() throws {
        let text = try readHistoryText(history)
        let events: [JepsenChecker.Operation]
        do {
            events = try History.parseEvents(text)
        } catch {
            printError("jepsen: \(history): \(error)")
            throw ExitCode(ExitStatus.badInput)
        }
        switch to {
        case "jsonl": print(JSONLinesHistory.write(events), terminator: "")
        case "edn": print(EDNHistory.write(events), terminator: "")
        default: throw ValidationError("--to must be edn or jsonl")
        }
    }
}
