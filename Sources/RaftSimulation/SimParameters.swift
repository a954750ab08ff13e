// Swarm testing: every seed draws its own cluster size, fault rates and configuration, so the
// runs together explore far more combinations than one fixed mix of faults would.

/// Everything a seed decides before the run starts. Rates are per mille per tick of the global
/// clock unless named otherwise.
public struct SimParameters: Sendable, CustomStringConvertible {
    /// Virtual time units in one nominal tick; node clocks drift around it.
    public static let tickUnits = 20
    /// Voters at bootstrap.
    public var nodeCount: Int
    /// Fresh node ids (beyond the bootstrap voters) that membership changes may add.
    public var spareCount: Int
    /// Every node's election timeout (the core randomizes in [E, 2E)).
    public var electionTimeoutTicks: Int
    /// Whether nodes run pre-elections (thesis §9.6).
    public var preVote: Bool
    /// Whether leaders step down without a quorum (thesis §6.2); always on with leases.
    public var checkQuorum: Bool
    /// ReadIndex or lease-based reads for the whole cluster.
    public var readOnlyMode: ReadOnlyModeChoice
    /// The drift bound the cores are configured with; tick drift stays within what it tolerates.
    public var leaseClockDriftBoundTicks: Int
    /// Each node's tick period, in time units, is drawn from tickUnits...tickUnits + this.
    public var tickDriftUnits: Int
    /// One-way message latency is drawn from 1...this, in time units.
    public var delayMaxUnits: Int
    /// Messages lost, per mille of messages sent.
    public var dropPermille: Int
    /// Messages delivered twice, per mille of messages sent.
    public var duplicatePermille: Int
    /// Syncing a Ready to disk takes 0...this time units; a crash before the sync loses it.
    public var syncDelayMaxUnits: Int
    /// Crash of a random running node, per mille per tick (it restarts from disk later).
    public var crashPermille: Int
    /// Pause of a random node (a stalled process), per mille per tick.
    public var pausePermille: Int
    /// A new partition, per mille per tick.
    public var partitionPermille: Int
    /// Healing the current partition, per mille per tick.
    public var healPermille: Int
    /// A membership change proposed on the leader, per mille per tick.
    public var confChangePermille: Int
    /// A leadership transfer started on the leader, per mille per tick.
    public var transferPermille: Int
    /// Client operations started per tick, per mille (each client has at most one outstanding).
    public var clientOpPermille: Int
    /// Share of client operations that are reads, per mille.
    public var readPermille: Int
    /// The host compacts its log once this many entries were applied past its snapshot (0: never).
    public var compactEveryEntries: Int
    /// Entries the leader may have in flight per follower (small values exercise flow control).
    public var inflightMessagesMax: Int
    /// Entries in one append (1 splits a new leader's old entries from its no-op: Figure 8).
    public var appendEntriesMax: Int
    /// Messages that take a slow path (a retransmission, a congested link): delivered up to
    /// `slowDelayMaxTicks` late, so acknowledgements and heartbeat answers arrive ticks after they
    /// were sent and after newer ones. Per mille of messages sent.
    public var slowPermille: Int
    /// How late a slow message may arrive, in nominal ticks (up to three election timeouts).
    public var slowDelayMaxTicks: Int
    /// A node's inbound link turns slow (every message to it is a slow one) for a while, per mille
    /// per tick: a leader then hears acknowledgements ticks late, which is where lease timing that
    /// counts from the answer instead of the send breaks (thesis §6.4.1).
    public var slowInboundPermille: Int
    /// Whether hosts send the messages that depend on nothing unsynced (a leader's appends and
    /// heartbeats whose term is already durable, pre-vote requests) before syncing their Ready, as
    /// kvd does (thesis §10.2.1: the leader writes its log in parallel with replicating it).
    public var earlySend: Bool
    /// Per mille of Readys after which the host starts a client operation (a proposal or a read) on
    /// the node before it syncs and calls `advance`, as kvd's request path does.
    public var betweenReadyPermille: Int
    /// Entries proposed on a leader as it is cut into a minority, so the followers with it grow
    /// suffixes that the next leader must overwrite in short appends (§5.3). 0: none.
    public var divergentBurstEntries: Int
    /// Nominal ticks after a transfer, or a partition that cuts the leader off, during which reads
    /// go to the old leader and writes to the newest one: the old leader's lease must have ended
    /// (thesis §3.10, §6.4.1) and its read rounds must not be confirmed by stale answers (§6.4).
    /// 0: no such steering.
    public var oldLeaderReadTicks: Int
    /// Whether the liveness phase also isolates a follower of the healthy leader and requires that
    /// its return does not depose that leader (thesis §9.6, §4.2.3). Only with pre-vote and
    /// check-quorum, which together promise it.
    public var rejoinCheck: Bool

    /// Which read path the seed exercises.
    public enum ReadOnlyModeChoice: Sendable { case readIndex, leaseBased }

    /// Draws the parameters of `seed`; `nodeCount` overrides the drawn cluster size (everything
    /// else is drawn identically, so `--seed S --nodes N` with the drawn N replays `--seed S`).
    public init(seed: UInt64, nodeCount override: Int? = nil) {
        var r = SimRandom(seed: seed ^ 0x5EED_5EED_5EED_5EED)
        nodeCount = 3 + r.below(5)
        if let n = override { nodeCount = n }
        spareCount = r.below(3)
        electionTimeoutTicks = 10
        let lease = r.chance(permille: 600)
        readOnlyMode = lease ? .leaseBased : .readIndex
        checkQuorum = lease || r.chance(permille: 800)
        preVote = r.chance(permille: 850)
        // Lease safety: the core's lease ends (E - 1 - bound) of the leader's ticks after it sent the
        // heartbeat a quorum answered (one tick of granularity and the bound are subtracted); a voter
        // refuses other candidates until E of its own ticks after receiving that heartbeat, the
        // first of which may come at once, so for (E - 1) of its periods. The slowest period may
        // thus exceed the fastest by a factor up to (E - 1) / (E - 1 - bound): 1.5 for bound 3, 1.8
        // for 4, 2.25 for 5. Lease seeds drift right up to (just under) what their bound tolerates,
        // which is what catches a lease that ignores the bound; other seeds drift up to 25%.
        leaseClockDriftBoundTicks = lease ? r.between(3...5) : 3
        let driftMax = Self.tickUnits * (electionTimeoutTicks - 1) / (electionTimeoutTicks - 1 - leaseClockDriftBoundTicks)
            - Self.tickUnits - 1
        if lease {
            tickDriftUnits = r.chance(permille: 750) ? driftMax : r.between(0...driftMax)
        } else {
            tickDriftUnits = r.chance(permille: 200) ? 0 : r.between(1...Self.tickUnits / 4)
        }
        // Short delays let a new leader commit a write inside an old leader's lease window.
        delayMaxUnits = lease && r.chance(permille: 600) ? r.between(1...6) : r.between(1...Self.tickUnits * 2)
        dropPermille = r.chance(permille: 300) ? 0 : r.between(1...150)
        duplicatePermille = r.chance(permille: 500) ? 0 : r.between(1...100)
        syncDelayMaxUnits = r.chance(permille: 400) ? 0 : r.between(1...Self.tickUnits)
        crashPermille = r.chance(permille: 300) ? 0 : r.between(1...25)
        pausePermille = r.chance(permille: 400) ? 0 : r.between(1...20)
        partitionPermille = r.chance(permille: lease ? 100 : 250) ? 0 : r.between(5...(lease ? 120 : 60))
        healPermille = r.between(20...150)
        confChangePermille = r.chance(permille: 400) ? 0 : r.between(5...40)
        transferPermille = r.chance(permille: 500) ? 0 : r.between(2...30)
        clientOpPermille = r.between(300...1000)
        readPermille = r.between(200...700)
        compactEveryEntries = r.chance(permille: 300) ? 0 : r.between(3...40)
        inflightMessagesMax = r.chance(permille: 500) ? 256 : r.between(1...4)
        appendEntriesMax = r.chance(permille: 500) ? 4096 : r.between(1...3)
        // Drawn after the knobs above, so those keep their values for every earlier seed number.
        slowPermille = r.chance(permille: 400) ? 0 : r.between(5...80)
        slowDelayMaxTicks = r.between(2...3 * electionTimeoutTicks)
        slowInboundPermille = r.chance(permille: 500) ? 0 : r.between(5...40)
        earlySend = r.chance(permille: 500)
        betweenReadyPermille = r.chance(permille: 300) ? 0 : r.between(100...800)
        divergentBurstEntries = r.chance(permille: 400) ? 0 : r.between(3...20)
        oldLeaderReadTicks = r.chance(permille: 400) ? 0 : r.between(2...2 * electionTimeoutTicks)
        rejoinCheck = preVote && checkQuorum && r.chance(permille: 700)
        if oldLeaderReadTicks > 0 && transferPermille == 0 { transferPermille = r.between(2...30) }
    }

    /// One line naming the drawn values (printed with a failure).
    public var description: String {
        "nodes=\(nodeCount) spares=\(spareCount) mode=\(readOnlyMode) preVote=\(preVote) checkQuorum=\(checkQuorum) "
            + "drift=\(tickDriftUnits)/\(Self.tickUnits) delay<=\(delayMaxUnits) drop=\(dropPermille)‰ dup=\(duplicatePermille)‰ "
            + "sync<=\(syncDelayMaxUnits) crash=\(crashPermille)‰ pause=\(pausePermille)‰ partition=\(partitionPermille)‰ "
            + "heal=\(healPermille)‰ conf=\(confChangePermille)‰ transfer=\(transferPermille)‰ ops=\(clientOpPermille)‰ "
            + "reads=\(readPermille)‰ compact=\(compactEveryEntries) inflight=\(inflightMessagesMax) append<=\(appendEntriesMax) "
            + "slow=\(slowPermille)‰<=\(slowDelayMaxTicks)t slowInbound=\(slowInboundPermille)‰ earlySend=\(earlySend) "
            + "betweenReady=\(betweenReadyPermille)‰ burst=\(divergentBurstEntries) oldLeaderReads=\(oldLeaderReadTicks)t rejoin=\(rejoinCheck)"
    }
}
