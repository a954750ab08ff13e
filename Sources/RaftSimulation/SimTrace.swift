// The record of a run: a running hash of every event (two runs of one seed must agree on it) and
// the last few events, formatted only when a failure or `--verbose` asks for them.

/// One thing that happened, in a compact form cheap enough to record for every step.
public struct TraceEvent: Sendable, Hashable, CustomStringConvertible {
    /// What kind of thing happened; `node`, `a`, `b`, `c` mean what each kind says.
    public enum Kind: UInt8, Sendable {
        case deliver        // node=to a=from b=message type c=term
        case drop           // node=to a=from b=message type c=term
        case tick           // node
        case leader         // node became leader, a=term
        case crash, restart, pause, resume  // node, a=incarnation or duration
        case partition      // a=kind, b=bitmask of side A, c=bitmask of bridge
        case heal
        case propose        // node, a=value
        case acked          // node, a=value, b=index
        case readBegin      // node, a=read id, b=required index
        case readServed     // node, a=read id, b=served index
        case confChange     // node proposed, a=encoded summary
        case transfer       // node=leader, a=target
        case snapshot       // node installed a snapshot at a
        case compact        // node compacted to a
        case liveness       // healing starts
        case rejoinCheck    // node isolated, a=mode (0 both ways, 1 outbound only, 2 paused), b=ticks, c=quiet
    }

    /// Virtual time in units (SimParameters.tickUnits per nominal tick).
    public var time: Int
    /// What happened.
    public var kind: Kind
    /// The node it happened on (or to), 0 for the whole cluster.
    public var node: UInt64
    /// First detail; see ``Kind``.
    public var a: UInt64
    /// Second detail; see ``Kind``.
    public var b: UInt64
    /// Third detail; see ``Kind``.
    public var c: UInt64

    static let messageTypeNames = [
        "app", "appResp", "vote", "voteResp", "preVote", "preVoteResp", "heartbeat", "heartbeatResp",
        "snap", "timeoutNow", "readIndex", "readIndexResp",
    ]

    /// One readable line.
    public var description: String {
        let t = "t=\(time)"
        let type = Int(b) < Self.messageTypeNames.count ? Self.messageTypeNames[Int(b)] : "type\(b)"
        switch kind {
        case .deliver: return "\(t) \(a)->\(node) \(type) term=\(c)"
        case .drop: return "\(t) \(a)->\(node) \(type) term=\(c) DROPPED"
        case .tick: return "\(t) tick \(node)"
        case .leader: return "\(t) \(node) became leader of term \(a)"
        case .crash: return "\(t) CRASH \(node)"
        case .restart: return "\(t) restart \(node) (incarnation \(a))"
        case .pause: return "\(t) pause \(node) for \(a)"
        case .resume: return "\(t) resume \(node)"
        case .partition:
            let names = ["halves", "one-way", "isolate-leader", "bridge", "isolate", "leader-minority"]
            return "\(t) PARTITION \(names[Int(a)]) side=\(Self.members(b)) bridge=\(Self.members(c))"
        case .heal: return "\(t) heal"
        case .propose: return "\(t) propose value \(a) on \(node)"
        case .acked: return "\(t) ack value \(a) at index \(b) from \(node)"
        case .readBegin: return "\(t) read \(a) on \(node) must see index >= \(b)"
        case .readServed: return "\(t) read \(a) served by \(node) at index \(b)"
        case .confChange: return "\(t) conf change proposed on \(node): \(ConfSummary.describe(a))"
        case .transfer: return "\(t) transfer leadership \(node) -> \(a)"
        case .snapshot: return "\(t) \(node) installed snapshot at \(a)"
        case .compact: return "\(t) \(node) compacted to \(a)"
        case .liveness: return "\(t) HEAL ALL: liveness phase"
        case .rejoinCheck:
            let how = ["cut off", "cut off inbound", "paused"][Int(a) % 3]
            return "\(t) REJOIN CHECK: \(node) \(how) for \(b) ticks\(c == 1 ? ", no writes meanwhile" : "")"
        }
    }

    static func members(_ mask: UInt64) -> String {
        "{" + (0..<64).filter { mask & (1 << UInt64($0)) != 0 }.map(String.init).joined(separator: ",") + "}"
    }
}

/// Packs a conf change into one trace word: per step 2 bits type + 6 bits node.
enum ConfSummary {
    static func encode(_ steps: [(type: UInt8, node: UInt64)]) -> UInt64 {
        var word: UInt64 = 0
        for (i, s) in steps.prefix(7).enumerated() {
            word |= (UInt64(s.type + 1) << 6 | (s.node & 63)) << UInt64(8 * i)
        }
        return word
    }

    static func describe(_ word: UInt64) -> String {
        var parts: [String] = []
        var w = word
        while w != 0 {
            let byte = w & 0xFF
            let names = ["?", "add-voter", "add-learner", "remove"]
            parts.append("\(names[Int(byte >> 6)]) \(byte & 63)")
            w >>= 8
        }
        return parts.joined(separator: ", ")
    }
}

/// The running hash and the tail of the trace.
struct SimTrace {
    static let tailCount = 40
    private(set) var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    private(set) var eventCount = 0
    private var ring: [TraceEvent] = []
    private var ringStart = 0
    var verbose: ((String) -> Void)?

    mutating func record(_ e: TraceEvent) {
        for word in [UInt64(e.time), UInt64(e.kind.rawValue), e.node, e.a, e.b, e.c] {
            hash = (hash ^ word) &* 0x0000_0100_0000_01B3
        }
        eventCount += 1
        if e.kind == .tick { return }
        if ring.count < Self.tailCount {
            ring.append(e)
        } else {
            ring[ringStart] = e
            ringStart = (ringStart + 1) % Self.tailCount
        }
        verbose?(e.description)
    }

    /// The last events (ticks left out), oldest first.
    var tail: [TraceEvent] { Array(ring[ringStart...] + ring[..<ringStart]) }
}
