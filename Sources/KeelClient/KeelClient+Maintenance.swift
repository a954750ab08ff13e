import Foundation
public import KeelProto

// etcd's Maintenance calls beyond Status. Hash, HashKV and Defragment are about one member, so
// each names the endpoint and tries no other.
extension KeelClient {
    /// `HashKV` of one member at `revision` (0: its current revision).
    public func hashKV(at endpoint: Endpoint, revision: Int64 = 0) async throws -> Etcdserverpb_HashKVResponse {
        let request = Etcdserverpb_HashKVRequest.with { $0.revision = revision }
        return try await call(.idempotent, pinned: endpoint) { grpc, options in
            try await Etcdserverpb_Maintenance.Client(wrapping: grpc).hashKV(request, options: options)
        }
    }

    /// `Hash` of one member's whole key-value state.
    public func hash(at endpoint: Endpoint) async throws -> Etcdserverpb_HashResponse {
        try await call(.idempotent, pinned: endpoint) { grpc, options in
            try await Etcdserverpb_Maintenance.Client(wrapping: grpc).hash(Etcdserverpb_HashRequest(), options: options)
        }
    }

    /// `Defragment` of one member's store.
    public func defragment(at endpoint: Endpoint) async throws -> Etcdserverpb_DefragmentResponse {
        try await call(.idempotent, pinned: endpoint) { grpc, options in
            try await Etcdserverpb_Maintenance.Client(wrapping: grpc).defragment(Etcdserverpb_DefragmentRequest(), options: options)
        }
    }

    /// `MoveLeader`: `endpoint` must be the leader's (etcd answers "not leader" otherwise).
    public func moveLeader(at endpoint: Endpoint, to target: UInt64) async throws -> Etcdserverpb_MoveLeaderResponse {
        let request = Etcdserverpb_MoveLeaderRequest.with { $0.targetID = target }
        return try await call(.mutation, pinned: endpoint) { grpc, options in
            try await Etcdserverpb_Maintenance.Client(wrapping: grpc).moveLeader(request, options: options)
        }
    }

    /// The alarms raised in the cluster (`Alarm` GET).
    public func alarmList() async throws -> Etcdserverpb_AlarmResponse {
        var request = Etcdserverpb_AlarmRequest()
        request.action = .get
        return try await alarm(request)
    }

    /// Clears an alarm; with member 0 and type NONE (the default), every raised alarm in turn,
    /// as etcd's clientv3 does. The answer lists the alarms cleared.
    public func alarmDisarm(memberID: UInt64 = 0, alarm kind: Etcdserverpb_AlarmType = .none) async throws -> Etcdserverpb_AlarmResponse {
        if memberID == 0 && kind == .none {
            var cleared = Etcdserverpb_AlarmResponse()
            for raised in try await alarmList().alarms {
                cleared.alarms += try await alarmDisarm(memberID: raised.memberID, alarm: raised.alarm).alarms
            }
            return cleared
        }
        var request = Etcdserverpb_AlarmRequest()
        request.action = .deactivate
        request.memberID = memberID
        request.alarm = kind
        return try await alarm(request)
    }

    /// Any `Alarm` request. Raising or clearing one twice changes nothing, so it may be repeated.
    public func alarm(_ request: Etcdserverpb_AlarmRequest) async throws -> Etcdserverpb_AlarmResponse {
        try await call(.idempotent) { grpc, options in
            try await Etcdserverpb_Maintenance.Client(wrapping: grpc).alarm(request, options: options)
        }
    }
}

extension KeelClient {
    /// `Snapshot` of one member, handed to `receive` blob by blob as it arrives (bounded memory);
    /// one endpoint only, since a backup is one member's state.
    public func snapshot(at endpoint: Endpoint, _ receive: @escaping @Sendable (Data) throws -> Void) async throws {
        try await call(.idempotent, pinned: endpoint) { grpc, options in
            try await Etcdserverpb_Maintenance.Client(wrapping: grpc).snapshot(Etcdserverpb_SnapshotRequest(), options: options) { response in
                for try await message in response.messages { try receive(message.blob) }
            }
        }
    }
}
