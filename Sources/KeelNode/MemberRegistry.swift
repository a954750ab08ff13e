import Raft

/// Every member's description (name, peer URLs, learner or voter), replicated with the membership:
/// each configuration entry carries the ``MembershipChange`` it makes, every replica applies it in
/// log order, and the result is stored beside the Raft configuration (and travels in snapshots), so
/// a member added after the cluster started is known, with its addresses, to every member and to
/// every restart. The Raft configuration says who votes; this says who they are.
public struct MemberRegistry: Sendable, Hashable {
    /// One member. Client URLs are not here: members announce them themselves (peer handshakes).
    public struct Member: Sendable, Hashable {
        /// Its id.
        public var id: NodeID
        /// Its name; empty for a member added that has not started yet (etcd shows it so).
        public var name: String
        /// Where its peers reach it.
        public var peerURLs: [String]
        /// Whether it is a learner.
        public var isLearner: Bool

        /// Creates a description.
        public init(id: NodeID, name: String, peerURLs: [String], isLearner: Bool) {
            self.id = id
            self.name = name
            self.peerURLs = peerURLs
            self.isLearner = isLearner
        }
    }

    /// The members, in id order.
    public private(set) var members: [Member]

    /// Bounds that keep a decoded registry from allocating without limit.
    static let membersMax = 1024
    static let urlsPerMemberMax = 16
    static let textBytesMax = 4096
    static let version: UInt8 = 1

    /// A registry of `members`.
    public init(_ members: [Member]) {
        self.members = members.sorted { $0.id < $1.id }
    }

    /// The founding members, from the configuration every member starts with.
    init(configured: [MemberInfo]) {
        self.init(configured.map { Member(id: $0.id, name: $0.name, peerURLs: $0.peerURLs, isLearner: $0.isLearner) })
    }

    /// The member with `id`.
    public func member(_ id: NodeID) -> Member? { members.first { $0.id == id } }

    /// The member that listens on any of `peerURLs`.
    public func member(withPeerURLs peerURLs: [String]) -> Member? {
        members.first { !Set($0.peerURLs).isDisjoint(with: peerURLs) }
    }

    /// The registry after `change` (already judged valid against the Raft configuration by the core).
    func applying(_ change: MembershipChange) -> MemberRegistry {
        var result = self
        switch change.action {
        case .add:
            result.members.removeAll { $0.id == change.member }
            result.members.append(Member(id: change.member, name: "", peerURLs: change.peerURLs, isLearner: change.isLearner))
            result.members.sort { $0.id < $1.id }
        case .remove:
            result.members.removeAll { $0.id == change.member }
        case .update:
            if let slot = result.members.firstIndex(where: { $0.id == change.member }) {
                result.members[slot].peerURLs = change.peerURLs
            }
        case .promote:
            if let slot = result.members.firstIndex(where: { $0.id == change.member }) {
                result.members[slot].isLearner = false
            }
        }
        return result
    }

    /// `version u8 | count u32 | per member: id u64, learner u8, name, url count u8, urls` with
    /// texts as `length u16 | UTF-8` (big-endian).
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = [Self.version]
        appendBigEndian(UInt32(members.count), to: &bytes)
        for member in members {
            appendBigEndian(member.id.rawValue, to: &bytes)
            bytes.append(member.isLearner ? 1 : 0)
            Self.appendText(member.name, to: &bytes)
            bytes.append(UInt8(member.peerURLs.count))
            for url in member.peerURLs { Self.appendText(url, to: &bytes) }
        }
        return bytes
    }

    /// Decodes ``encoded()``; nil for anything else.
    public init?(decoding bytes: [UInt8]) {
        var reader = MembershipReader(bytes)
        guard reader.byte() == Self.version, let count = reader.u32(), count <= Self.membersMax else { return nil }
        var members: [Member] = []
        for _ in 0..<count {
            guard let id = reader.u64(), let learner = reader.byte(), learner <= 1, let name = reader.text(),
                let urlCount = reader.byte(), Int(urlCount) <= Self.urlsPerMemberMax
            else { return nil }
            var urls: [String] = []
            for _ in 0..<urlCount {
                guard let url = reader.text() else { return nil }
                urls.append(url)
            }
            members.append(Member(id: NodeID(id), name: name, peerURLs: urls, isLearner: learner == 1))
        }
        guard reader.atEnd else { return nil }
        self.init(members)
    }

    static func appendText(_ text: String, to bytes: inout [UInt8]) {
        let utf8 = Array(text.utf8.prefix(textBytesMax))
        bytes.append(UInt8(utf8.count >> 8))
        bytes.append(UInt8(utf8.count & 0xff))
        bytes += utf8
    }
}

/// One membership change as a configuration entry's context: who asked (so that member answers
/// its caller once the entry is applied) and what the change does to the ``MemberRegistry``.
public struct MembershipChange: Sendable, Hashable {
    /// What happens to the member.
    public enum Action: UInt8, Sendable, Hashable {
        /// A new member (voter or learner).
        case add = 1
        /// The member leaves.
        case remove = 2
        /// The member's peer URLs change.
        case update = 3
        /// The learner becomes a voter.
        case promote = 4
    }

    /// What happens.
    public var action: Action
    /// The member concerned.
    public var member: NodeID
    /// For add and update: its peer URLs.
    public var peerURLs: [String]
    /// For add: whether it joins as a learner.
    public var isLearner: Bool
    /// The member that proposed it and its request id (its waiter); zero when nobody waits.
    var origin: NodeID = .none
    var requestID: UInt64 = 0

    /// Creates a change.
    public init(action: Action, member: NodeID, peerURLs: [String] = [], isLearner: Bool = false) {
        self.action = action
        self.member = member
        self.peerURLs = peerURLs
        self.isLearner = isLearner
    }

    static let version: UInt8 = 1

    /// The Raft change this makes (thesis §4.1: one server at a time, no joint configuration).
    var confChange: ConfChange {
        let step: ConfChangeType
        switch action {
        case .add: step = isLearner ? .addLearner : .addVoter
        case .remove: step = .removeNode
        case .update: step = .updateNode
        case .promote: step = .addVoter
        }
        return ConfChange(changes: [ConfChangeSingle(type: step, node: member)], context: encoded())
    }

    /// `version u8 | action u8 | member u64 | learner u8 | origin u64 | request u64 | url count u8 | urls`.
    func encoded() -> [UInt8] {
        var bytes: [UInt8] = [Self.version, action.rawValue]
        appendBigEndian(member.rawValue, to: &bytes)
        bytes.append(isLearner ? 1 : 0)
        appendBigEndian(origin.rawValue, to: &bytes)
        appendBigEndian(requestID, to: &bytes)
        bytes.append(UInt8(peerURLs.count))
        for url in peerURLs { MemberRegistry.appendText(url, to: &bytes) }
        return bytes
    }

    /// Decodes ``encoded()``; nil for anything else (every replica decides alike).
    init?(decoding bytes: [UInt8]) {
        var reader = MembershipReader(bytes)
        guard reader.byte() == Self.version, let rawAction = reader.byte(), let action = Action(rawValue: rawAction),
            let member = reader.u64(), let learner = reader.byte(), learner <= 1, let origin = reader.u64(),
            let requestID = reader.u64(), let urlCount = reader.byte(), Int(urlCount) <= MemberRegistry.urlsPerMemberMax
        else { return nil }
        var urls: [String] = []
        for _ in 0..<urlCount {
            guard let url = reader.text() else { return nil }
            urls.append(url)
        }
        guard reader.atEnd else { return nil }
        self.init(action: action, member: NodeID(member), peerURLs: urls, isLearner: learner == 1)
        self.origin = NodeID(origin)
        self.requestID = requestID
    }
}

/// Reads the big-endian fields of the membership encodings, refusing to read past the end.
struct MembershipReader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { offset == bytes.count }

    mutating func byte() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u32() -> UInt32? {
        guard offset + 4 <= bytes.count else { return nil }
        defer { offset += 4 }
        return bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func u64() -> UInt64? {
        guard offset + 8 <= bytes.count else { return nil }
        defer { offset += 8 }
        return readBigEndian(bytes, at: offset)
    }

    mutating func text() -> String? {
        guard offset + 2 <= bytes.count else { return nil }
        let length = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
        guard length <= MemberRegistry.textBytesMax, offset + 2 + length <= bytes.count else { return nil }
        defer { offset += 2 + length }
        return String(decoding: bytes[(offset + 2)..<(offset + 2 + length)], as: UTF8.self)
    }
}
