/// What one step of a membership change does (thesis §4.3, §4.2.1).
public enum ConfChangeType: UInt8, Sendable, Hashable {
    /// Add a voter, or promote a learner to voter.
    case addVoter = 0
    /// Add a learner, or demote a voter to learner.
    case addLearner = 1
    /// Remove the node entirely.
    case removeNode = 2
    /// Change nothing in the configuration: the host's description of a member (its addresses,
    /// carried in the change's context) changes, in log order with the other changes (etcd's
    /// ConfChangeUpdateNode). The node must be a member.
    case updateNode = 3
}

/// One step of a membership change.
public struct ConfChangeSingle: Sendable, Hashable {
    /// What happens to `node`.
    public var type: ConfChangeType
    /// The node affected.
    public var node: NodeID

    /// Creates a step.
    public init(type: ConfChangeType, node: NodeID) {
        self.type = type
        self.node = node
    }
}

/// A membership change (thesis §4.3). One step is a simple change that moves straight to the new
/// configuration (it changes at most one voter, so old and new majorities overlap). Several steps
/// enter a joint configuration in which decisions need majorities of both the old and the new voters;
/// an empty change with `leaveJoint` leaves it.
public struct ConfChange: Sendable, Hashable {
    /// The steps; empty when leaving a joint configuration.
    public var changes: [ConfChangeSingle]
    /// Leave the current joint configuration.
    public var leaveJoint: Bool
    /// For a joint change: the leader proposes the leave by itself once the joint configuration is
    /// applied. When false the host must propose `ConfChange.leave` itself.
    public var autoLeave: Bool
    /// The host's bytes, opaque to the core: replicated with the change and handed back when it is
    /// applied (for example who asked for it and the new member's addresses).
    public var context: [UInt8]

    /// Creates a change.
    public init(changes: [ConfChangeSingle], leaveJoint: Bool = false, autoLeave: Bool = true, context: [UInt8] = []) {
        self.changes = changes
        self.leaveJoint = leaveJoint
        self.autoLeave = autoLeave
        self.context = context
    }

    /// The change that leaves a joint configuration.
    public static var leave: ConfChange { ConfChange(changes: [], leaveJoint: true, autoLeave: false) }

    /// The configuration this change leads to from `conf`, or why it is invalid there: what
    /// ``RaftNode/applyConfChange(_:)`` will decide, for a host that acts on valid changes only.
    public func applied(to conf: ConfState) throws(RaftError) -> ConfState { try ConfChanger.apply(self, to: conf) }

    /// Whether this change enters a joint configuration.
    public var isJoint: Bool { !leaveJoint && changes.count > 1 }

    /// Upper bound on steps in one change; keeps a decoded change from allocating without limit.
    static let changesMax = 1024
    /// Upper bound on the context's bytes, for the same reason.
    public static let contextBytesMax = 64 << 10

    /// The wire form: one flags byte, a 4-byte little-endian count, then per step a type byte and an
    /// 8-byte little-endian node id; with a context (flag 4), a 4-byte little-endian length and its
    /// bytes follow. A change without a context encodes as it did before contexts existed.
    public func encoded() -> [UInt8] {
        precondition(changes.count <= Self.changesMax)
        precondition(context.count <= Self.contextBytesMax)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(5 + 9 * changes.count + (context.isEmpty ? 0 : 4 + context.count))
        bytes.append((leaveJoint ? 1 : 0) | (autoLeave ? 2 : 0) | (context.isEmpty ? 0 : 4))
        let count = UInt32(changes.count)
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: count >> UInt32(shift))) }
        for change in changes {
            bytes.append(change.type.rawValue)
            let raw = change.node.rawValue
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: raw >> UInt64(shift))) }
        }
        if !context.isEmpty {
            let length = UInt32(context.count)
            for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: length >> UInt32(shift))) }
            bytes += context
        }
        return bytes
    }

    /// Decodes ``encoded()``; throws ``RaftError/Code/malformed`` on anything else.
    public init(decoding bytes: [UInt8]) throws(RaftError) {
        guard bytes.count >= 5 else { throw RaftError(.malformed, "conf change shorter than its header") }
        let flags = bytes[0]
        guard flags & ~7 == 0 else { throw RaftError(.malformed, "unknown conf change flags \(flags)") }
        var count: UInt32 = 0
        for i in 0..<4 { count |= UInt32(bytes[1 + i]) << UInt32(8 * i) }
        guard count <= Self.changesMax else { throw RaftError(.malformed, "conf change with \(count) steps") }
        let stepsEnd = 5 + 9 * Int(count)
        var context: [UInt8] = []
        if flags & 4 != 0 {
            guard bytes.count >= stepsEnd + 4 else { throw RaftError(.malformed, "conf change context shorter than its length") }
            var length: UInt32 = 0
            for i in 0..<4 { length |= UInt32(bytes[stepsEnd + i]) << UInt32(8 * i) }
            guard length > 0, length <= Self.contextBytesMax else { throw RaftError(.malformed, "conf change context of \(length) bytes") }
            guard bytes.count == stepsEnd + 4 + Int(length) else { throw RaftError(.malformed, "conf change length mismatch") }
            context = Array(bytes[(stepsEnd + 4)...])
        } else {
            guard bytes.count == stepsEnd else { throw RaftError(.malformed, "conf change length mismatch") }
        }
        var changes: [ConfChangeSingle] = []
        changes.reserveCapacity(Int(count))
        var offset = 5
        for _ in 0..<count {
            guard let type = ConfChangeType(rawValue: bytes[offset]) else {
                throw RaftError(.malformed, "unknown conf change type \(bytes[offset])")
            }
            var raw: UInt64 = 0
            for i in 0..<8 { raw |= UInt64(bytes[offset + 1 + i]) << UInt64(8 * i) }
            changes.append(ConfChangeSingle(type: type, node: NodeID(raw)))
            offset += 9
        }
        self.init(changes: changes, leaveJoint: flags & 1 != 0, autoLeave: flags & 2 != 0, context: context)
    }
}
