import Foundation
import GRPCCore
public import KeelProto
import SwiftProtobuf

extension KeelClient {
    /// Grants a lease (`Lease.LeaseGrant`) of `ttl` seconds; `id` 0 lets the server choose the ID.
    ///
    /// Sent again elsewhere only when it cannot have reached a server: a repeated grant would make
    /// a second lease (or, with a chosen ID, fail with "lease already exists").
    public func leaseGrant(ttl: Int64, id: Int64 = 0) async throws -> LeaseGrantResponse {
        let request = Etcdserverpb_LeaseGrantRequest.with {
            $0.ttl = ttl
            $0.id = id
        }
        return try await call(.mutation) { grpc, options in
            try await Etcdserverpb_Lease.Client(wrapping: grpc).leaseGrant(request, options: options)
        }
    }

    /// Revokes a lease and deletes every key attached to it (`Lease.LeaseRevoke`). A lease that
    /// does not exist fails with `notFound`, "etcdserver: requested lease not found".
    ///
    /// Handled like a write: a repeat after a revoke that did happen would report the lease missing.
    public func leaseRevoke(id: Int64) async throws -> LeaseRevokeResponse {
        let request = Etcdserverpb_LeaseRevokeRequest.with { $0.id = id }
        return try await call(.mutation) { grpc, options in
            try await Etcdserverpb_Lease.Client(wrapping: grpc).leaseRevoke(request, options: options)
        }
    }

    /// A lease's granted and remaining TTL, and with `keys` the keys attached to it
    /// (`Lease.LeaseTimeToLive`). etcd answers a missing lease with TTL -1 rather than an error.
    public func leaseTimeToLive(id: Int64, keys: Bool = false) async throws -> LeaseTimeToLiveResponse {
        let request = Etcdserverpb_LeaseTimeToLiveRequest.with {
            $0.id = id
            $0.keys = keys
        }
        return try await call(.idempotent) { grpc, options in
            try await Etcdserverpb_Lease.Client(wrapping: grpc).leaseTimeToLive(request, options: options)
        }
    }

    /// Every live lease (`Lease.LeaseLeases`).
    public func leaseLeases() async throws -> LeaseLeasesResponse {
        try await call(.idempotent) { grpc, options in
            try await Etcdserverpb_Lease.Client(wrapping: grpc).leaseLeases(
                Etcdserverpb_LeaseLeasesRequest(), options: options)
        }
    }

    /// Renews a lease once: opens a `Lease.LeaseKeepAlive` stream, sends one request and returns the
    /// first answer. A lease that is gone (etcd answers TTL 0) fails with ``KeelClientError`` code
    /// `notFound`, "etcdserver: requested lease not found", as etcd's client reports it.
    ///
    /// A renewal only pushes the expiry forward, so it is repeated on another endpoint like a read.
    public func keepAliveOnce(id: Int64) async throws -> LeaseKeepAliveResponse {
        let request = Etcdserverpb_LeaseKeepAliveRequest.with { $0.id = id }
        let response = try await call(.idempotent) { grpc, options in
            try await Etcdserverpb_Lease.Client(wrapping: grpc).leaseKeepAlive(
                request: StreamingClientRequest { writer in
                    try await writer.write(request)
                    // The request side stays open until the answer has come (ending the call
                    // cancels this wait), as etcd's client does: a server may end the stream when
                    // the client half-closes it, before answering.
                    await waitUntilCancelled()
                },
                options: options
            ) { response in
                for try await message in response.messages { return message }
                throw RPCError(code: .unavailable, message: "the keepalive stream ended without an answer")
            }
        }
        guard response.ttl > 0 else { throw KeelClientError.leaseNotFound(endpoint: nil) }
        return response
    }

    /// Writes one key with UTF-8 text, attached to a lease (0: none).
    public func put(_ key: String, _ value: String, lease: Int64, prevKV: Bool = false) async throws
        -> Etcdserverpb_PutResponse
    {
        var request = Etcdserverpb_PutRequest()
        request.key = Data(key.utf8)
        request.value = Data(value.utf8)
        request.lease = lease
        request.prevKv = prevKV
        return try await put(request)
    }
}

extension KeelClientError {
    /// etcd's text for a lease that does not exist (`rpctypes.ErrLeaseNotFound`).
    public static let leaseNotFoundMessage = "etcdserver: requested lease not found"

    /// The lease is gone: the server answered a renewal with TTL 0, or said so itself.
    static func leaseNotFound(endpoint: Endpoint?) -> KeelClientError {
        KeelClientError(code: .notFound, message: leaseNotFoundMessage, endpoint: endpoint)
    }
}

/// Returns when the task is cancelled.
func waitUntilCancelled() async {
    while !Task.isCancelled {
        try? await Task.sleep(for: .seconds(3600))
    }
}
