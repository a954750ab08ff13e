/// Alarms: etcd's Alarm call applied from the log, and the NOSPACE cap on writes.
extension KVWriteTransaction {
    /// Lists, raises or clears alarms as etcd's `applierV3backend.Alarm` does: the answer holds
    /// the alarms listed, or the one raised or cleared (nothing when it was already so).
    func alarm(_ request: AlarmRequest) throws -> [AlarmMember] {
        var current = alarms ?? machine.alarms
        let entry = AlarmMember(memberID: request.memberID, kind: request.kind)
        switch request.action {
        case .get:
            return request.kind == .none ? current : current.filter { $0.kind == request.kind }
        case .activate:
            guard request.kind != .none, !current.contains(entry) else { return [] }
            current.append(entry)
        case .deactivate:
            guard let position = current.firstIndex(of: entry) else { return [] }
            current.remove(at: position)
        }
        guard current.count <= KVStateMachine.alarmsMax else {
            throw StorageError(.limitExceeded, "etcdserver: too many alarms (at most \(KVStateMachine.alarmsMax))")
        }
        batch.put(family: database.family(KVStateMachine.metaFamily), KVStateMachine.alarmsKey, KVStateMachine.encodeAlarms(current))
        alarms = current
        return [entry]
    }

    /// Whether a command may grow the store (etcd's quota `Cost` above zero): a put, a Txn with
    /// a put in either branch (nested ones too), a lease grant. Deletes, compactions and reads
    /// must still pass while NOSPACE is raised: they are how an operator frees space.
    static func growsStore(_ command: KVCommand) -> Bool {
        switch command {
        case .put, .leaseGrant: return true
        case .txn(let request): return hasPut(request)
        case .range, .deleteRange, .compact, .leaseRevoke, .leaseCheckpoint, .alarm: return false
        }
    }

    private static func hasPut(_ request: TxnRequest) -> Bool {
        (request.success + request.failure).contains { op in
            switch op {
            case .put: return true
            case .txn(let inner): return hasPut(inner)
            case .range, .deleteRange: return false
            }
        }
    }
}

extension StorageError {
    /// etcd's ErrNoSpace, refused on every replica alike.
    static let noSpace = StorageError(.noSpace, "etcdserver: mvcc: database space exceeded")
}

extension KVStateMachine {
    /// One entry per member and kind at most; this bounds the record for clusters far larger than
    /// any Keel runs.
    static let alarmsMax = 1_000

    static func encodeAlarms(_ alarms: [AlarmMember]) -> [UInt8] {
        var writer = ByteWriter()
        writer.u32(UInt32(alarms.count))
        for alarm in alarms {
            writer.u64(alarm.memberID)
            writer.u8(alarm.kind.rawValue)
        }
        return Record.seal(writer.bytes)
    }

    static func decodeAlarms(_ bytes: [UInt8]) throws -> [AlarmMember] {
        var reader = try Record.open(bytes, what: "alarms")
        let count = Int(try reader.u32())
        guard count <= alarmsMax else { throw StorageError.corruption("alarms: \(count) entries") }
        var alarms: [AlarmMember] = []
        for _ in 0..<count {
            let memberID = try reader.u64()
            let raw = try reader.u8()
            guard let kind = AlarmKind(rawValue: raw) else { throw StorageError(.unsupportedVersion, "alarms: unknown kind \(raw)") }
            alarms.append(AlarmMember(memberID: memberID, kind: kind))
        }
        try reader.finish()
        return alarms
    }
}
