import Raft

/// A state-machine command: what a committed Raft entry's data carries. Its binary form is
/// versioned and checksummed (``Record``), so a replica running a newer build can refuse a
/// command it does not understand rather than misapply it.
public indirect enum KVCommand: Hashable, Sendable {
    /// A linearizable read served through the log.
    case range(RangeRequest)
    /// A write.
    case put(PutRequest)
    /// A delete.
    case deleteRange(DeleteRangeRequest)
    /// A transaction.
    case txn(TxnRequest)
    /// Drop history below a revision.
    case compact(revision: Int64)
    /// Create a lease with an id and a time-to-live in seconds.
    case leaseGrant(id: Int64, ttlSeconds: Int64)
    /// Delete a lease and every key attached to it.
    case leaseRevoke(id: Int64)
    /// Record leases' remaining time-to-live (the leader's, so a new leader neither resets nor
    /// shortens them). Checkpoints of leases that are gone are ignored.
    case leaseCheckpoint([LeaseCheckpoint])
    /// Read, raise or clear an alarm (etcd's Alarm call; replicated so every member agrees).
    case alarm(AlarmRequest)

    /// The command's bytes.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        KVCommandCoding.write(self, into: &writer)
        return Record.seal(writer.bytes)
    }

    /// Decodes bytes made by ``encoded()``; throws `corruption` or `unsupportedVersion`.
    public init(decoding bytes: [UInt8]) throws {
        var reader = try Record.open(bytes, what: "kv command")
        self = try KVCommandCoding.readCommand(from: &reader)
        try reader.finish()
    }
}

/// The binary layout of ``KVCommand`` and its requests.
enum KVCommandCoding {
    private enum Tag: UInt8 {
        case range = 1, put, deleteRange, txn, compact, leaseGrant, leaseRevoke, leaseCheckpoint, alarm
    }

    static func write(_ command: KVCommand, into writer: inout ByteWriter) {
        switch command {
        case .range(let request):
            writer.u8(Tag.range.rawValue)
            write(request, into: &writer)
        case .put(let request):
            writer.u8(Tag.put.rawValue)
            write(request, into: &writer)
        case .deleteRange(let request):
            writer.u8(Tag.deleteRange.rawValue)
            write(request, into: &writer)
        case .txn(let request):
            writer.u8(Tag.txn.rawValue)
            write(request, into: &writer)
        case .compact(let revision):
            writer.u8(Tag.compact.rawValue)
            writer.i64(revision)
        case .leaseGrant(let id, let ttl):
            writer.u8(Tag.leaseGrant.rawValue)
            writer.i64(id)
            writer.i64(ttl)
        case .leaseRevoke(let id):
            writer.u8(Tag.leaseRevoke.rawValue)
            writer.i64(id)
        case .leaseCheckpoint(let checkpoints):
            writer.u8(Tag.leaseCheckpoint.rawValue)
            writer.u32(UInt32(checkpoints.count))
            for checkpoint in checkpoints {
                writer.i64(checkpoint.id)
                // 0 stands for "renewed": a real checkpoint records at least 1 ms.
                writer.i64(checkpoint.remainingMilliseconds ?? 0)
            }
        case .alarm(let request):
            writer.u8(Tag.alarm.rawValue)
            writer.u8(request.action.rawValue)
            writer.u64(request.memberID)
            writer.u8(request.kind.rawValue)
        }
    }

    static func readCommand(from reader: inout ByteReader) throws -> KVCommand {
        let raw = try reader.u8()
        guard let tag = Tag(rawValue: raw) else {
            throw StorageError(.unsupportedVersion, "kv command: unknown command tag \(raw)")
        }
        switch tag {
        case .range: return .range(try readRange(from: &reader))
        case .put: return .put(try readPut(from: &reader))
        case .deleteRange: return .deleteRange(try readDelete(from: &reader))
        case .txn: return .txn(try readTxn(from: &reader, depth: 0))
        case .compact: return .compact(revision: try reader.i64())
        case .leaseGrant: return .leaseGrant(id: try reader.i64(), ttlSeconds: try reader.i64())
        case .leaseRevoke: return .leaseRevoke(id: try reader.i64())
        case .leaseCheckpoint:
            let count = Int(try reader.u32())
            guard count <= reader.remaining / 16 else { throw StorageError.corruption("kv command: \(count) lease checkpoints overrun") }
            var checkpoints: [LeaseCheckpoint] = []
            checkpoints.reserveCapacity(count)
            for _ in 0..<count {
                let id = try reader.i64()
                let remaining = try reader.i64()
                checkpoints.append(LeaseCheckpoint(id: id, remainingMilliseconds: remaining > 0 ? remaining : nil))
            }
            return .leaseCheckpoint(checkpoints)
        case .alarm:
            let actionRaw = try reader.u8()
            let memberID = try reader.u64()
            let kindRaw = try reader.u8()
            // An action or kind this build does not know is a newer format, not a bad command.
            guard let action = AlarmRequest.Action(rawValue: actionRaw), let kind = AlarmKind(rawValue: kindRaw) else {
                throw StorageError(.unsupportedVersion, "kv command: unknown alarm action \(actionRaw) or kind \(kindRaw)")
            }
            return .alarm(AlarmRequest(action: action, memberID: memberID, kind: kind))
        }
    }

    static func write(_ request: RangeRequest, into writer: inout ByteWriter) {
        writer.blob(request.key)
        writer.blob(request.rangeEnd)
        writer.i64(request.limit)
        writer.i64(request.revision)
        writer.u8(request.sortOrder.rawValue)
        writer.u8(request.sortTarget.rawValue)
        writer.bool(request.keysOnly)
        writer.bool(request.countOnly)
    }

    static func readRange(from reader: inout ByteReader) throws -> RangeRequest {
        let key = try reader.blob()
        let rangeEnd = try reader.blob()
        let limit = try reader.i64()
        let revision = try reader.i64()
        let orderRaw = try reader.u8()
        let targetRaw = try reader.u8()
        guard let order = RangeRequest.SortOrder(rawValue: orderRaw), let target = RangeRequest.SortTarget(rawValue: targetRaw) else {
            throw StorageError.corruption("kv command: bad sort order \(orderRaw) or target \(targetRaw)")
        }
        return RangeRequest(
            key: key, rangeEnd: rangeEnd, limit: limit, revision: revision, sortOrder: order, sortTarget: target,
            keysOnly: try reader.bool(), countOnly: try reader.bool())
    }

    static func write(_ request: PutRequest, into writer: inout ByteWriter) {
        writer.blob(request.key)
        writer.blob(request.value)
        writer.i64(request.lease)
        writer.bool(request.prevKv)
        writer.bool(request.ignoreValue)
        writer.bool(request.ignoreLease)
    }

    static func readPut(from reader: inout ByteReader) throws -> PutRequest {
        PutRequest(
            key: try reader.blob(), value: try reader.blob(), lease: try reader.i64(), prevKv: try reader.bool(),
            ignoreValue: try reader.bool(), ignoreLease: try reader.bool())
    }

    static func write(_ request: DeleteRangeRequest, into writer: inout ByteWriter) {
        writer.blob(request.key)
        writer.blob(request.rangeEnd)
        writer.bool(request.prevKv)
    }

    static func readDelete(from reader: inout ByteReader) throws -> DeleteRangeRequest {
        DeleteRangeRequest(key: try reader.blob(), rangeEnd: try reader.blob(), prevKv: try reader.bool())
    }

    /// Nested transactions deeper than this are rejected as corrupt rather than risking the stack.
    static let txnDepthMax = 64

    static func write(_ request: TxnRequest, into writer: inout ByteWriter) {
        writer.u32(UInt32(request.compare.count))
        for compare in request.compare {
            writer.blob(compare.key)
            writer.blob(compare.rangeEnd)
            writer.u8(compare.result.rawValue)
            switch compare.target {
            case .version(let value): writer.u8(0); writer.i64(value)
            case .create(let value): writer.u8(1); writer.i64(value)
            case .mod(let value): writer.u8(2); writer.i64(value)
            case .value(let value): writer.u8(3); writer.blob(value)
            case .lease(let value): writer.u8(4); writer.i64(value)
            }
        }
        for branch in [request.success, request.failure] {
            writer.u32(UInt32(branch.count))
            for op in branch {
                switch op {
                case .range(let inner): writer.u8(Tag.range.rawValue); write(inner, into: &writer)
                case .put(let inner): writer.u8(Tag.put.rawValue); write(inner, into: &writer)
                case .deleteRange(let inner): writer.u8(Tag.deleteRange.rawValue); write(inner, into: &writer)
                case .txn(let inner): writer.u8(Tag.txn.rawValue); write(inner, into: &writer)
                }
            }
        }
    }

    static func readTxn(from reader: inout ByteReader, depth: Int) throws -> TxnRequest {
        guard depth < txnDepthMax else { throw StorageError.corruption("kv command: txn nested deeper than \(txnDepthMax)") }
        let compareCount = Int(try reader.u32())
        guard compareCount <= reader.remaining else { throw StorageError.corruption("kv command: \(compareCount) compares overrun") }
        var compares: [Compare] = []
        for _ in 0..<compareCount {
            let key = try reader.blob()
            let rangeEnd = try reader.blob()
            let resultRaw = try reader.u8()
            guard let result = CompareResult(rawValue: resultRaw) else {
                throw StorageError.corruption("kv command: bad compare result \(resultRaw)")
            }
            let targetTag = try reader.u8()
            let target: CompareTarget
            switch targetTag {
            case 0: target = .version(try reader.i64())
            case 1: target = .create(try reader.i64())
            case 2: target = .mod(try reader.i64())
            case 3: target = .value(try reader.blob())
            case 4: target = .lease(try reader.i64())
            default: throw StorageError.corruption("kv command: bad compare target \(targetTag)")
            }
            compares.append(Compare(key: key, rangeEnd: rangeEnd, target: target, result: result))
        }
        var branches: [[RequestOp]] = []
        for _ in 0..<2 {
            let count = Int(try reader.u32())
            guard count <= reader.remaining else { throw StorageError.corruption("kv command: \(count) txn ops overrun") }
            var ops: [RequestOp] = []
            for _ in 0..<count {
                let raw = try reader.u8()
                switch Tag(rawValue: raw) {
                case .range: ops.append(.range(try readRange(from: &reader)))
                case .put: ops.append(.put(try readPut(from: &reader)))
                case .deleteRange: ops.append(.deleteRange(try readDelete(from: &reader)))
                case .txn: ops.append(.txn(try readTxn(from: &reader, depth: depth + 1)))
                default: throw StorageError.corruption("kv command: bad txn op tag \(raw)")
                }
            }
            branches.append(ops)
        }
        return TxnRequest(compare: compares, success: branches[0], failure: branches[1])
    }
}
