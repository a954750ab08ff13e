// raft-sim: runs the seeded cluster simulator for one seed or many (a soak), printing every
// violation with its replay command and a summary line. Exits non-zero on any violation.

import ArgumentParser
import Foundation
import RaftSimulation

@main
struct RaftSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the seeded Raft cluster simulator (safety under faults, then liveness after healing)."
    )

    @Option(help: "The (first) seed to run.")
    var seed: UInt64 = 0

    @Option(help: "How many consecutive seeds to run, starting at --seed.")
    var seeds: Int = 1

    @Option(help: "Force the cluster size (3...7) instead of drawing it from the seed.")
    var nodes: Int?

    @Option(help: "Nominal ticks of the faulty phase per seed.")
    var steps: Int = SimOptions.stepsDefault

    @Flag(help: "Print every event (ticks aside) as it happens.")
    var verbose = false

    @Flag(help: "Stop at the first violation (to count the seeds a broken variant survives).")
    var stopOnViolation = false

    @Option(help: "Print a progress line every this many seeds (0: never).")
    var progressEvery: Int = 1000

    func validate() throws {
        if let n = nodes, !(3...7).contains(n) { throw ValidationError("--nodes must be within 3...7") }
        if seeds < 1 { throw ValidationError("--seeds must be at least 1") }
        if steps < 1 { throw ValidationError("--steps must be at least 1") }
    }

    func run() throws {
        let start = Date()
        var violations = 0
        var done = 0
        for offset in 0..<seeds {
            let s = seed &+ UInt64(offset)
            let log: (@Sendable (String) -> Void)? = verbose ? { @Sendable (line: String) in print(line) } : nil
            let result = Simulation.run(SimOptions(seed: s, nodeCount: nodes, steps: steps, verbose: log))
            done += 1
            if result.violation != nil {
                violations += 1
                print(result.failureReport)
                if stopOnViolation { break }
            } else if verbose {
                print("seed \(s): ok, \(result.eventCount) events, \(result.writesAcked) writes acked, \(result.readsServed) reads served, "
                    + "\(result.leadersElected) leaders, \(result.confChangesApplied) conf changes applied, \(result.snapshotsInstalled) snapshots installed, "
                    + "\(result.crashes) crashes, \(result.partitions) partitions, recovered in \(result.ticksToRecover) ticks, trace hash \(String(result.traceHash, radix: 16))")
                print("  parameters: \(result.parameters)")
            }
            if progressEvery > 0 && done % progressEvery == 0 && done < seeds {
                let elapsed = Date().timeIntervalSince(start)
                print("progress: \(done)/\(seeds) seeds, \(violations) violations, \(String(format: "%.1f", elapsed)) s")
                fflush(nil)  // progress must reach a redirected log at once
            }
        }
        let elapsed = Date().timeIntervalSince(start)
        print("raft-sim: \(done) seeds from \(seed), \(violations) violations, \(String(format: "%.1f", elapsed)) s")
        if violations > 0 { throw ExitCode.failure }
    }
}
