import NIOCore
import Raft

/// The binary encoding of one ``PeerMessage`` (format version 1).
///
/// Layout: a tag byte (1 raft, 2 proposal, 3 proposal rejected, 4 lease request, 5 lease answer), then the fields in declaration
/// order, big-endian; byte strings are `UInt32` length + bytes; sets are a `UInt32` count + sorted
/// ids (sorted so an encoding is a function of the value, not of Set iteration order); an optional
/// snapshot is a presence byte. Decoding checks every length against the bytes present.
public enum PeerMessageCodec {
    private enum Tag: UInt8 {
        case raft = 1, proposal = 2, proposalRejected = 3, leaseRequest = 4, leaseAnswer = 5
    }

    /// Bytes of a raft message's fixed fields (tag through leaseTick, context length, entry
    /// count, snapshot flag).
    private static let raftFixedBytes = 1 + 1 + 8 * 3 + 8 * 3 + 1 + 8 * 3 + 4 + 4 + 1
    /// Bytes of an entry without its data: term, index, kind, data length.
    private static let entryFixedBytes = 8 + 8 + 1 + 4
    /// Bytes of snapshot metadata without sets and data: index, term, autoLeave, 4 set counts, data length.
    private static let snapshotFixedBytes = 8 + 8 + 1 + 4 * 4 + 4

    /// Appends the encoding of `message` to `buffer`.
    public static func encode(_ message: PeerMessage, into buffer: inout ByteBuffer) {
        switch message {
        case .raft(let raft):
            buffer.writeInteger(Tag.raft.rawValue)
            encodeRaft(raft, into: &buffer)
        case .proposal(let proposal):
            buffer.writeInteger(Tag.proposal.rawValue)
            buffer.writeInteger(proposal.from.rawValue)
            buffer.writeInteger(proposal.to.rawValue)
            buffer.writeInteger(proposal.requestID)
            buffer.writeLengthPrefixed(proposal.data)
        case .proposalRejected(let rejection):
            buffer.writeInteger(Tag.proposalRejected.rawValue)
            buffer.writeInteger(rejection.from.rawValue)
            buffer.writeInteger(rejection.to.rawValue)
            buffer.writeInteger(rejection.requestID)
            buffer.writeInteger(rejection.reason.rawValue)
            buffer.writeInteger(rejection.leader.rawValue)
            buffer.writeLengthPrefixed(rejection.message)
        case .leaseRequest(let request):
            buffer.writeInteger(Tag.leaseRequest.rawValue)
            buffer.writeInteger(request.from.rawValue)
            buffer.writeInteger(request.to.rawValue)
            buffer.writeInteger(request.requestID)
            buffer.writeInteger(request.kind.rawValue)
            buffer.writeInteger(request.leaseID)
        case .leaseAnswer(let answer):
            buffer.writeInteger(Tag.leaseAnswer.rawValue)
            buffer.writeInteger(answer.from.rawValue)
            buffer.writeInteger(answer.to.rawValue)
            buffer.writeInteger(answer.requestID)
            buffer.writeInteger(answer.status.rawValue)
            buffer.writeInteger(answer.grantedSeconds)
            buffer.writeInteger(answer.remainingMilliseconds)
        }
    }

    /// The exact number of bytes ``encode(_:into:)`` writes for `message`, computed without
    /// encoding: the send queue accounts bytes with it on the caller's thread.
    public static func encodedByteCount(_ message: PeerMessage) -> Int {
        switch message {
        case .raft(let raft):
            var total = raftFixedBytes + raft.context.count
            for entry in raft.entries { total += entryFixedBytes + entry.data.count }
            if let snapshot = raft.snapshot {
                let conf = snapshot.metadata.confState
                let ids = conf.voters.count + conf.learners.count + conf.votersOutgoing.count + conf.learnersNext.count
                total += snapshotFixedBytes + 8 * ids + snapshot.data.count
            }
            return total
        case .proposal(let proposal):
            return 1 + 8 * 3 + 4 + proposal.data.count
        case .proposalRejected(let rejection):
            return 1 + 8 * 3 + 1 + 8 + 4 + rejection.message.utf8.count
        case .leaseRequest:
            return 1 + 8 * 3 + 1 + 8
        case .leaseAnswer:
            return 1 + 8 * 3 + 1 + 8 * 2
        }
    }

    /// Decodes one message from the front of `reader`.
    static func decode(from reader: inout ByteReader) throws(TransportError) -> PeerMessage {
        let tagByte = try reader.u8("message tag")
        guard let tag = Tag(rawValue: tagByte) else { throw reader.malformed("unknown message tag \(tagByte)") }
        switch tag {
        case .raft:
            return .raft(try decodeRaft(from: &reader))
        case .proposal:
            let from = NodeID(try reader.u64("proposal.from"))
            let to = NodeID(try reader.u64("proposal.to"))
            let requestID = try reader.u64("proposal.requestID")
            let data = try reader.bytes("proposal.data")
            return .proposal(ForwardedProposal(from: from, to: to, requestID: requestID, data: data))
        case .proposalRejected:
            let from = NodeID(try reader.u64("rejection.from"))
            let to = NodeID(try reader.u64("rejection.to"))
            let requestID = try reader.u64("rejection.requestID")
            let reasonByte = try reader.u8("rejection.reason")
            guard let reason = ProposalRejection.Reason(rawValue: reasonByte) else {
                throw reader.malformed("unknown rejection reason \(reasonByte)")
            }
            let leader = NodeID(try reader.u64("rejection.leader"))
            let message = try reader.string("rejection.message")
            return .proposalRejected(ProposalRejection(
                from: from, to: to, requestID: requestID, reason: reason, leader: leader, message: message))
        case .leaseRequest:
            let from = NodeID(try reader.u64("leaseRequest.from"))
            let to = NodeID(try reader.u64("leaseRequest.to"))
            let requestID = try reader.u64("leaseRequest.requestID")
            let kindByte = try reader.u8("leaseRequest.kind")
            guard let kind = LeaseRequest.Kind(rawValue: kindByte) else { throw reader.malformed("unknown lease request kind \(kindByte)") }
            let leaseID = Int64(bitPattern: try reader.u64("leaseRequest.leaseID"))
            return .leaseRequest(LeaseRequest(from: from, to: to, requestID: requestID, kind: kind, leaseID: leaseID))
        case .leaseAnswer:
            let from = NodeID(try reader.u64("leaseAnswer.from"))
            let to = NodeID(try reader.u64("leaseAnswer.to"))
            let requestID = try reader.u64("leaseAnswer.requestID")
            let statusByte = try reader.u8("leaseAnswer.status")
            guard let status = LeaseAnswer.Status(rawValue: statusByte) else { throw reader.malformed("unknown lease answer status \(statusByte)") }
            let granted = Int64(bitPattern: try reader.u64("leaseAnswer.grantedSeconds"))
            let remaining = Int64(bitPattern: try reader.u64("leaseAnswer.remainingMilliseconds"))
            return .leaseAnswer(
                LeaseAnswer(from: from, to: to, requestID: requestID, status: status, grantedSeconds: granted, remainingMilliseconds: remaining))
        }
    }

    /// Decodes a whole buffer holding exactly one message (tests, tools).
    public static func decode(_ buffer: ByteBuffer) throws(TransportError) -> PeerMessage {
        var reader = ByteReader(buffer, context: "peer message")
        let message = try decode(from: &reader)
        try reader.expectEnd()
        return message
    }

    private static func encodeRaft(_ message: Message, into buffer: inout ByteBuffer) {
        buffer.writeInteger(message.type.rawValue)
        buffer.writeInteger(message.from.rawValue)
        buffer.writeInteger(message.to.rawValue)
        buffer.writeInteger(message.term.rawValue)
        buffer.writeInteger(message.logTerm.rawValue)
        buffer.writeInteger(message.index.rawValue)
        buffer.writeInteger(message.commit.rawValue)
        buffer.writeBool(message.reject)
        buffer.writeInteger(message.rejectHint.rawValue)
        buffer.writeInteger(message.rejectHintTerm.rawValue)
        buffer.writeInteger(message.leaseTick)
        buffer.writeLengthPrefixed(message.context)
        precondition(message.entries.count <= UInt32.max, "too many entries for one message")
        buffer.writeInteger(UInt32(message.entries.count))
        for entry in message.entries {
            buffer.writeInteger(entry.term.rawValue)
            buffer.writeInteger(entry.index.rawValue)
            buffer.writeInteger(entry.kind.rawValue)
            buffer.writeLengthPrefixed(entry.data)
        }
        if let snapshot = message.snapshot {
            buffer.writeBool(true)
            buffer.writeInteger(snapshot.metadata.index.rawValue)
            buffer.writeInteger(snapshot.metadata.term.rawValue)
            let conf = snapshot.metadata.confState
            for set in [conf.voters, conf.learners, conf.votersOutgoing, conf.learnersNext] {
                buffer.writeInteger(UInt32(set.count))
                for id in set.sorted() { buffer.writeInteger(id.rawValue) }
            }
            buffer.writeBool(conf.autoLeave)
            buffer.writeLengthPrefixed(snapshot.data)
        } else {
            buffer.writeBool(false)
        }
    }

    private static func decodeRaft(from reader: inout ByteReader) throws(TransportError) -> Message {
        let typeByte = try reader.u8("raft.type")
        guard let type = MessageType(rawValue: typeByte) else {
            throw reader.malformed("unknown raft message type \(typeByte)")
        }
        var message = Message(type: type, from: NodeID(try reader.u64("raft.from")), to: NodeID(try reader.u64("raft.to")))
        message.term = Term(try reader.u64("raft.term"))
        message.logTerm = Term(try reader.u64("raft.logTerm"))
        message.index = LogIndex(try reader.u64("raft.index"))
        message.commit = LogIndex(try reader.u64("raft.commit"))
        message.reject = try reader.bool("raft.reject")
        message.rejectHint = LogIndex(try reader.u64("raft.rejectHint"))
        message.rejectHintTerm = Term(try reader.u64("raft.rejectHintTerm"))
        message.leaseTick = try reader.u64("raft.leaseTick")
        message.context = try reader.bytes("raft.context")
        let entryCount = try reader.count("raft.entries count", itemBytesMin: entryFixedBytes)
        message.entries.reserveCapacity(entryCount)
        for _ in 0..<entryCount {
            let term = Term(try reader.u64("entry.term"))
            let index = LogIndex(try reader.u64("entry.index"))
            let kindByte = try reader.u8("entry.kind")
            guard let kind = EntryKind(rawValue: kindByte) else { throw reader.malformed("unknown entry kind \(kindByte)") }
            message.entries.append(Entry(term: term, index: index, kind: kind, data: try reader.bytes("entry.data")))
        }
        if try reader.bool("raft.snapshot present") {
            let index = LogIndex(try reader.u64("snapshot.index"))
            let term = Term(try reader.u64("snapshot.term"))
            var sets: [Set<NodeID>] = []
            for name in ["voters", "learners", "votersOutgoing", "learnersNext"] {
                let count = try reader.count("confState.\(name) count", itemBytesMin: 8)
                var set = Set<NodeID>(minimumCapacity: count)
                for _ in 0..<count { set.insert(NodeID(try reader.u64("confState.\(name)"))) }
                sets.append(set)
            }
            let autoLeave = try reader.bool("confState.autoLeave")
            let conf = ConfState(
                voters: sets[0], learners: sets[1], votersOutgoing: sets[2], learnersNext: sets[3], autoLeave: autoLeave)
            let data = try reader.bytes("snapshot.data")
            message.snapshot = Snapshot(metadata: SnapshotMetadata(index: index, term: term, confState: conf), data: data)
        }
        return message
    }
}
