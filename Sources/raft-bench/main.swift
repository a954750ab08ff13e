// raft-bench: proposals committed per second in an in-process 3-node cluster with no I/O.
// The host loop is as thin as possible (persisting is a no-op, sending is a function call), so the
// figure measures the core. Release build:
//   swift run --scratch-path .build-a -c release raft-bench [entriesPerBatch...]
// Each round the leader gets one batch of proposals (one `propose(batch:)` call, or single
// `propose` calls for batch size 1), then every node runs one ready/advance cycle and all messages
// are delivered. Rounds pipeline: the next batch is proposed before earlier ones commit.

import Raft

/// A fixed-seed generator; elections are not what is measured.
struct BenchRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

let entryBytes = 16
/// Entries committed per measurement.
let entriesPerRunTarget = 2_000_000
/// Compact every node's log every this many rounds, as a host taking snapshots would.
let compactEveryRounds = 64

struct Cluster {
    var nodes: [RaftNode]
    var mailbox: [Message] = []
    var committedAtLeader = 0

    init() {
        let ids = (1...3).map { NodeID(UInt64($0)) }
        nodes = ids.map { id in
            var config = RaftConfig(id: id)
            config.inflightMessagesMax = 256
            config.uncommittedEntriesMaxBytes = 1 << 30
            return RaftNode(config: config, restored: .bootstrap(voters: ids), random: BenchRandom(state: id.rawValue))
        }
        nodes[0].campaign()
        for _ in 0..<10 { cycle() }
        precondition(nodes[0].status.role == .leader, "node 1 failed to become leader")
        committedAtLeader = 0
    }

    /// One ready/advance cycle on every node, then delivery of everything sent.
    mutating func cycle() {
        for (i, node) in nodes.enumerated() where node.hasReady {
            let rd = node.ready()
            mailbox.append(contentsOf: rd.messages)
            if i == 0 { committedAtLeader += rd.committedEntries.count }
            node.advance(rd)
        }
        let messages = mailbox
        mailbox.removeAll(keepingCapacity: true)
        for m in messages {
            nodes[Int(m.to.rawValue) - 1].step(m)
        }
    }

    mutating func compact() {
        for node in nodes {
            let applied = node.status.applied
            node.compact(upTo: applied, snapshotData: [])
        }
    }
}

/// How a round's proposals reach the leader.
enum ProposalStyle: String {
    /// One `propose(batch:)` call carrying the round's entries.
    case batchCall = "propose(batch:)"
    /// One `propose(_:)` call per entry; the core batches them into one append per follower.
    case singleCalls = "propose(_:) x n"
}

func run(batch: Int, style: ProposalStyle) -> (entriesPerSecond: Double, rounds: Int) {
    var cluster = Cluster()
    let payload = [UInt8](repeating: 0xAB, count: entryBytes)
    let proposals = [[UInt8]](repeating: payload, count: batch)
    var rounds = 0
    var proposed = 0
    let clock = ContinuousClock()
    let start = clock.now
    while cluster.committedAtLeader < entriesPerRunTarget {
        if proposed < entriesPerRunTarget {
            do {
                switch style {
                case .batchCall:
                    try cluster.nodes[0].propose(batch: proposals)
                case .singleCalls:
                    for _ in 0..<batch { try cluster.nodes[0].propose(payload) }
                }
                proposed += batch
            } catch {
                fatalError("proposal refused: \(error)")
            }
        }
        cluster.cycle()
        rounds += 1
        if rounds % compactEveryRounds == 0 { cluster.compact() }
    }
    let elapsed = clock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return (Double(cluster.committedAtLeader) / seconds, rounds)
}

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let batches = arguments.isEmpty ? [1, 16, 64, 256, 1024] : arguments
print("raft-bench: 3 nodes in one process, no I/O, \(entryBytes)-byte entries, \(entriesPerRunTarget) entries per run")
for style in [ProposalStyle.singleCalls, .batchCall] {
    for batch in batches {
        let result = run(batch: batch, style: style)
        let figure = Int(result.entriesPerSecond)
        print("\(style.rawValue), \(batch) entries per round: \(figure) entries committed/s (\(result.rounds) rounds)")
    }
}
