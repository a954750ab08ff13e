import Raft
import RaftSimulation
import XCTest

/// The simulator itself: deterministic replay, and many seeds of Figure 3 safety plus liveness.
final class SimulatorTests: XCTestCase {
    /// Seeds run by `swift test` (debug build); `raft-sim --seeds N` runs any number. Each seed
    /// now also runs the adversarial schedules (slow answers, early sends, operations between
    /// Ready and advance, the rejoin check), about twice the work of a seed before them, so fewer
    /// seeds keep the test target's time.
    static let seedCount = 500
    static let stepsPerSeed = 200

    func testSeedReplaysIdentically() {
        for seed: UInt64 in [3, 77, 4242] {
            let first = Simulation.run(SimOptions(seed: seed))
            let second = Simulation.run(SimOptions(seed: seed))
            XCTAssertGreaterThan(first.eventCount, 1000, "seed \(seed) did something")
            XCTAssertEqual(first.traceHash, second.traceHash, "seed \(seed) replays")
            XCTAssertEqual(first.eventCount, second.eventCount)
            XCTAssertEqual(first.traceTail, second.traceTail)
        }
        XCTAssertNotEqual(Simulation.run(SimOptions(seed: 3)).traceHash, Simulation.run(SimOptions(seed: 4)).traceHash)
    }

    func testNodeOverrideKeepsEverythingElseOfTheSeed() {
        let drawn = SimParameters(seed: 99)
        let forced = Simulation.run(SimOptions(seed: 99, nodeCount: drawn.nodeCount))
        XCTAssertEqual(forced.traceHash, Simulation.run(SimOptions(seed: 99)).traceHash)
        XCTAssertTrue(forced.options.replayCommand.contains("--seed 99 --nodes \(drawn.nodeCount)"))
    }

    func testRandomGeneratorIsDeterministicAndBounded() {
        var a = SimRandom(seed: 12345)
        var b = SimRandom(seed: 12345)
        var c = SimRandom(seed: 12346)
        var differs = false
        for _ in 0..<1000 {
            let x = a.next()
            XCTAssertEqual(x, b.next())
            if x != c.next() { differs = true }
            let k = a.below(7)
            XCTAssertTrue((0..<7).contains(k))
            _ = b.below(7)
        }
        XCTAssertTrue(differs)
    }

    /// The host's persist-before-send check (Figure 2): a host that sends a message of any type
    /// whose meaning depends on its disk before syncing the Ready that holds it is reported.
    func testHostSendingBeforeSyncIsCaughtForEveryDependentMessageType() {
        let types: [MessageType] = [.requestVote, .requestVoteResponse, .appendEntriesResponse, .heartbeatResponse]
        for type in types {
            var caughtAt: UInt64?
            for seed: UInt64 in 0..<20 {
                var options = SimOptions(seed: seed, steps: 100)
                options.brokenHostSendsEarly = [type]
                let result = Simulation.run(options)
                if let v = result.violation, v.code == .persistBeforeSend, v.message.contains("sent \(type)") {
                    caughtAt = seed
                    break
                }
            }
            XCTAssertNotNil(caughtAt, "a host that sends \(type) before syncing went unnoticed for 20 seeds")
        }
    }

    /// Each seed draws the schedules that catch subtle breaks: its share of them over many seeds.
    /// Lease seeds run with clocks right up to what their drift bound tolerates and find nothing
    /// (testManySeedsKeepSafetyAndLiveness); the same seeds with clocks beyond the bound must be
    /// caught (a stale read, or a read confirmed from a lease while a newer leader exists): the
    /// checks would otherwise be blind to the lease's timing.
    func testLeaseReadsBeyondTheDriftBoundAreCaught() {
        var caught: (seed: UInt64, violation: Violation)?
        var leaseSeeds = 0
        for seed: UInt64 in 0..<300 where SimParameters(seed: seed).readOnlyMode == .leaseBased {
            leaseSeeds += 1
            var options = SimOptions(seed: seed)
            // Periods of 20 and 60 units: the leader's lease may run three times as long as a voter's promise.
            options.leaseDriftUnits = 2 * SimParameters.tickUnits
            if let violation = Simulation.run(options).violation {
                caught = (seed, violation)
                break
            }
        }
        XCTAssertNotNil(caught, "\(leaseSeeds) lease seeds with clocks beyond the drift bound and no stale read found")
        XCTAssertTrue([Violation.Code.staleRead, .leaseOverlap].contains(caught?.violation.code), "\(String(describing: caught))")
    }

    func testAdversarialScheduleFeaturesAreDrawn() {
        var lease = 0, early = 0, between = 0, slow = 0, burst = 0, transferReads = 0, rejoin = 0, shortAppends = 0
        let count = 1000
        for seed in 0..<UInt64(count) {
            let p = SimParameters(seed: seed)
            if p.readOnlyMode == .leaseBased { lease += 1 }
            if p.earlySend { early += 1 }
            if p.betweenReadyPermille > 0 { between += 1 }
            if p.slowPermille > 0 || p.slowInboundPermille > 0 { slow += 1 }
            if p.divergentBurstEntries > 0 && p.appendEntriesMax <= 3 { burst += 1 }
            if p.oldLeaderReadTicks > 0 && p.transferPermille > 0 { transferReads += 1 }
            if p.rejoinCheck { rejoin += 1 }
            if p.appendEntriesMax <= 3 { shortAppends += 1 }
        }
        XCTAssertGreaterThan(lease, count / 2, "lease mode in a good share of seeds")
        XCTAssertGreaterThan(early, count / 3)
        XCTAssertGreaterThan(between, count / 2)
        XCTAssertGreaterThan(slow, count / 2)
        XCTAssertGreaterThan(burst, count / 5, "short appends over divergent suffixes")
        XCTAssertGreaterThan(transferReads, count / 3)
        XCTAssertGreaterThan(rejoin, count / 3)
        XCTAssertGreaterThan(shortAppends, count / 3)
    }

    /// Swarm testing: Figure 3 safety, read freshness and liveness over many seeds, each with its
    /// own cluster size (3...7) and fault rates.
    func testManySeedsKeepSafetyAndLiveness() {
        var sizes = Set<Int>()
        var acked = 0
        var served = 0
        var leaseSeeds = 0
        var confChanges = 0
        var snapshots = 0
        var crashes = 0
        var partitions = 0
        var leaders = 0
        for seed in 0..<UInt64(Self.seedCount) {
            let result = Simulation.run(SimOptions(seed: seed, steps: Self.stepsPerSeed))
            if result.violation != nil {
                XCTFail(result.failureReport)
                return
            }
            sizes.insert(result.parameters.nodeCount)
            acked += result.writesAcked
            served += result.readsServed
            if result.parameters.readOnlyMode == .leaseBased { leaseSeeds += 1 }
            confChanges += result.confChangesApplied
            snapshots += result.snapshotsInstalled
            crashes += result.crashes
            partitions += result.partitions
            leaders += result.leadersElected
        }
        XCTAssertEqual(sizes, Set(3...7), "every cluster size was exercised")
        XCTAssertGreaterThan(acked, Self.seedCount * 10, "writes were acknowledged")
        XCTAssertGreaterThan(served, Self.seedCount * 10, "reads were served")
        XCTAssertGreaterThan(leaseSeeds, Self.seedCount / 5, "lease reads were exercised")
        // The faults really happened (a simulator that injects nothing proves nothing).
        XCTAssertGreaterThan(confChanges, Self.seedCount / 2, "membership changes were applied")
        XCTAssertGreaterThan(snapshots, Self.seedCount / 4, "lagging followers received snapshots")
        XCTAssertGreaterThan(crashes, Self.seedCount, "nodes crashed")
        XCTAssertGreaterThan(partitions, Self.seedCount, "the network partitioned")
        XCTAssertGreaterThan(leaders, Self.seedCount * 2, "leadership changed")
    }
}
