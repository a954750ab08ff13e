// node-sim: runs the node simulation (the server's node state machine on simulated disks, network
// and clocks) for one seed or many, printing every violation with its replay command. Exits
// non-zero on any violation.

import ArgumentParser
import Foundation
import NodeSimulation

#if canImport(Glibc)
    import Glibc
#endif

/// What the trap handler writes: the seed that was running when a precondition (in the node, its
/// store or the checker) stopped the process, which would otherwise end a soak without naming it.
/// Filled before each seed, read only by the handler.
nonisolated(unsafe) let trapNote = UnsafeMutablePointer<CChar>.allocate(capacity: trapNoteBytesMax)
nonisolated(unsafe) var trapNoteLength = 0
let trapNoteBytesMax = 256

func noteSeed(_ seed: UInt64) {
    let text = Array("node-sim: a check trapped in seed \(seed); replay: swift run node-sim --seed \(seed) --verbose\n".utf8CString)
    let count = min(text.count - 1, trapNoteBytesMax)
    for offset in 0..<count { trapNote[offset] = text[offset] }
    trapNoteLength = count
}

func installTrapHandler() {
    #if canImport(Glibc)
        // Swift's traps are SIGILL on x86-64 and SIGTRAP on arm64.
        for signal in [SIGILL, SIGTRAP] {
            _ = Glibc.signal(signal) { number in
                _ = write(2, trapNote, trapNoteLength)
                _ = Glibc.signal(number, SIG_DFL)
                _ = raise(number)
            }
        }
    #endif
}

@main
struct NodeSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the seeded node simulation (the node layer under crashes, disk faults and partitions, then healed)."
    )

    @Option(help: "The (first) seed to run.")
    var seed: UInt64 = 0

    @Option(help: "How many consecutive seeds to run, starting at --seed.")
    var seeds: Int = 1

    @Option(help: "Force the cluster size (3...7) instead of drawing it from the seed.")
    var nodes: Int?

    @Option(help: "Global ticks of the faulty phase per seed.")
    var ticks: Int = NodeSimOptions.faultTicksDefault

    @Flag(help: "Print every notable event as it happens.")
    var verbose = false

    @Flag(help: "Stop at the first violation (to count the seeds a broken variant survives).")
    var stopOnViolation = false

    @Option(
        name: .customLong("lease-drift"),
        help: "Force lease reads with tick periods up to this many ms longer than the nominal 10 (2 is within the drift bound; larger is beyond it).")
    var leaseDrift: Int?

    @Option(
        name: .customLong("fast-clocks"),
        help: "Run every clock this many ms per tick fast (periods shorter than the nominal 10) with TTL leases in use: leases then expire early, which must be caught.")
    var fastClocks: Int?

    @Flag(help: "No TTL leases, whatever the seeds drew (their other parameters stay).")
    var noTTLLeases = false

    @Option(help: "Print a progress line every this many seeds (0: never).")
    var progressEvery: Int = 1000

    func validate() throws {
        if let n = nodes, !(3...7).contains(n) { throw ValidationError("--nodes must be within 3...7") }
        if seeds < 1 { throw ValidationError("--seeds must be at least 1") }
        if ticks < 1 { throw ValidationError("--ticks must be at least 1") }
        if let fast = fastClocks, !(1...5).contains(fast) { throw ValidationError("--fast-clocks must be within 1...5 (ms of a 10 ms tick)") }
    }

    func run() throws {
        installTrapHandler()
        let start = Date()
        var violations = 0
        var done = 0
        var totals = (writes: 0, reads: 0, crashes: 0, diskFailures: 0, snapshots: 0, compactions: 0, withoutImage: 0, heldBack: 0, events: 0)
        var leaseTotals = (granted: 0, keepalives: 0, expired: 0, revoked: 0)
        for offset in 0..<seeds {
            let s = seed &+ UInt64(offset)
            noteSeed(s)
            let log: (@Sendable (String) -> Void)? = verbose ? { @Sendable (line: String) in print(line) } : nil
            var options = NodeSimOptions(seed: s, nodeCount: nodes, faultTicks: ticks, verbose: log)
            options.leaseDriftMilliseconds = leaseDrift
            options.fastClockMilliseconds = fastClocks
            options.ttlLeases = !noTTLLeases
            let result = NodeSimulation.run(options)
            done += 1
            totals.writes += result.writesAcked
            totals.reads += result.readsServed
            totals.crashes += result.crashes
            totals.diskFailures += result.diskFailures
            totals.snapshots += result.snapshotsInstalled
            totals.compactions += result.logCompactions
            totals.withoutImage += result.restartsWithoutImage
            totals.heldBack += result.snapshotsHeldBack
            totals.events += result.eventCount
            leaseTotals.granted += result.leasesGranted
            leaseTotals.keepalives += result.keepalivesAcked
            leaseTotals.expired += result.leasesExpired
            leaseTotals.revoked += result.leasesRevokedByClients
            if result.violation != nil {
                violations += 1
                print(result.failureReport)
                if stopOnViolation { break }
            } else if verbose {
                print("seed \(s): ok, \(result.eventCount) events, \(result.writesAcked) writes acked, \(result.readsServed) reads, \(result.crashes) crashes, "
                    + "\(result.diskFailures) disk failures, \(result.snapshotsInstalled) snapshots installed, \(result.logCompactions) compactions, "
                    + "\(result.leasesGranted) leases granted, \(result.keepalivesAcked) keepalives, \(result.leasesExpired) expired, \(result.leasesRevokedByClients) revoked")
                print("  parameters: \(result.parameters)")
            }
            if progressEvery > 0 && done % progressEvery == 0 && done < seeds {
                print("progress: \(done)/\(seeds) seeds, \(violations) violations, \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
                fflush(nil)
            }
        }
        print("node-sim: \(done) seeds from \(seed), \(violations) violations, \(String(format: "%.1f", Date().timeIntervalSince(start))) s; "
            + "\(totals.writes) writes acked, \(totals.reads) linearizable reads, \(totals.crashes) crashes, \(totals.diskFailures) disk failures, "
            + "\(totals.snapshots) snapshots installed, \(totals.compactions) compactions, "
            + "\(totals.withoutImage) restarts without an image, \(totals.heldBack) snapshots held back, \(totals.events) events; "
            + "TTL leases: \(leaseTotals.granted) granted, \(leaseTotals.keepalives) keepalives acked, \(leaseTotals.expired) expired, "
            + "\(leaseTotals.revoked) revoked by clients")
        if violations > 0 { throw ExitCode.failure }
    }
}
