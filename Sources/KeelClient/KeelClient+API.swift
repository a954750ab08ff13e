import Foundation
public import KeelProto
import SwiftProtobuf

extension KeelClient {
    /// Reads a key or a range (`Range`). Pass `at` to ask one endpoint only (for example to read
    /// one member's local state with `serializable`).
    public func range(_ request: Etcdserverpb_RangeRequest, at endpoint: Endpoint? = nil) async throws
        -> Etcdserverpb_RangeResponse
    {
        try checkSendable(request)
        return try await call(.idempotent, pinned: endpoint) { grpc, options in
            try await Etcdserverpb_KV.Client(wrapping: grpc).range(request, options: options)
        }
    }

    /// Writes one key (`Put`).
    public func put(_ request: Etcdserverpb_PutRequest) async throws -> Etcdserverpb_PutResponse {
        // Key and value dominate a put; measuring exactly means encoding it twice, so only near the limit.
        if request.key.count + request.value.count + Self.putFieldsBytesMax > configuration.requestMessageBytesMax {
            try checkSendable(request)
        }
        return try await call(.mutation) { grpc, options in
            try await Etcdserverpb_KV.Client(wrapping: grpc).put(request, options: options)
        }
    }

    /// Deletes a key or a range (`DeleteRange`).
    public func deleteRange(_ request: Etcdserverpb_DeleteRangeRequest) async throws
        -> Etcdserverpb_DeleteRangeResponse
    {
        try checkSendable(request)
        return try await call(.mutation) { grpc, options in
            try await Etcdserverpb_KV.Client(wrapping: grpc).deleteRange(request, options: options)
        }
    }

    /// Runs a transaction (`Txn`). One that only reads is retried like a read.
    public func txn(_ request: Etcdserverpb_TxnRequest) async throws -> Etcdserverpb_TxnResponse {
        try checkSendable(request)
        return try await call(request.isReadOnly ? .idempotent : .mutation) { grpc, options in
            try await Etcdserverpb_KV.Client(wrapping: grpc).txn(request, options: options)
        }
    }

    /// Compacts the history up to a revision (`Compact`).
    public func compact(_ request: Etcdserverpb_CompactionRequest) async throws -> Etcdserverpb_CompactionResponse {
        try await call(.mutation) { grpc, options in
            try await Etcdserverpb_KV.Client(wrapping: grpc).compact(request, options: options)
        }
    }

    /// Asks one endpoint for its own status (`Maintenance.Status`); no other endpoint is tried,
    /// since the answer is about that member.
    public func status(at endpoint: Endpoint) async throws -> Etcdserverpb_StatusResponse {
        try await call(.idempotent, pinned: endpoint) { grpc, options in
            try await Etcdserverpb_Maintenance.Client(wrapping: grpc).status(Etcdserverpb_StatusRequest(), options: options)
        }
    }

    /// Lists the members (`Cluster.MemberList`), from `at` or from whichever endpoint answers.
    public func memberList(at endpoint: Endpoint? = nil) async throws -> Etcdserverpb_MemberListResponse {
        try await call(.idempotent, pinned: endpoint) { grpc, options in
            try await Etcdserverpb_Cluster.Client(wrapping: grpc).memberList(
                Etcdserverpb_MemberListRequest(), options: options)
        }
    }

    /// An upper bound on what a put encodes besides its key's and value's bytes: field tags and
    /// lengths, lease, flags.
    static let putFieldsBytesMax = 64

    /// Refuses a request larger than ``KeelClientConfiguration/requestMessageBytesMax`` before it is
    /// sent, with the code and text of etcd's client (grpc-go's), so the caller learns what is wrong
    /// instead of seeing the server reset the stream.
    func checkSendable(_ request: some SwiftProtobuf.Message) throws {
        let limit = configuration.requestMessageBytesMax
        let bytes: [UInt8] = try request.serializedBytes()
        guard bytes.count <= limit else {
            throw KeelClientError(
                code: .resourceExhausted, message: "trying to send message larger than max (\(bytes.count) vs. \(limit))",
                mayHaveReachedServer: false)
        }
    }

    /// Reads one key, or every key with the prefix, as UTF-8 text in and raw bytes out.
    public func get(_ key: String, prefix: Bool = false) async throws -> Etcdserverpb_RangeResponse {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data(key.utf8)
        if prefix { request.rangeEnd = KeyRange.prefixEnd(request.key) }
        return try await range(request)
    }

    /// Writes one key with UTF-8 text.
    public func put(_ key: String, _ value: String, prevKV: Bool = false) async throws -> Etcdserverpb_PutResponse {
        var request = Etcdserverpb_PutRequest()
        request.key = Data(key.utf8)
        request.value = Data(value.utf8)
        request.prevKv = prevKV
        return try await put(request)
    }
}

extension Etcdserverpb_TxnRequest {
    /// Whether neither branch writes: such a transaction may be repeated on another member.
    public var isReadOnly: Bool {
        (success + failure).allSatisfy(\.isReadOnly)
    }
}

extension Etcdserverpb_RequestOp {
    /// Whether this operation only reads (a range, or a nested read-only transaction).
    public var isReadOnly: Bool {
        switch request {
        case .requestRange: true
        case .requestTxn(let nested): nested.isReadOnly
        case .requestPut, .requestDeleteRange, .none: false
        }
    }
}
