import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import KeelProto

/// A KV service for the failover tests: answers every call with its own member ID in the header,
/// or fails every call with a chosen status; counts the calls it gets.
final class FakeKV: Etcdserverpb_KV.SimpleServiceProtocol, @unchecked Sendable {
    // @unchecked Sendable: `calls` is the only mutable state, and every access holds `lock`.
    let memberID: UInt64
    let failure: RPCError?
    /// Calls answered with `failure` before the service starts answering normally; nil: all of them.
    let failingCalls: Int?
    private let lock = NSLock()
    private var calls = 0
    private var putRequests: [Etcdserverpb_PutRequest] = []

    init(memberID: UInt64, failure: RPCError? = nil, failingCalls: Int? = nil) {
        self.memberID = memberID
        self.failure = failure
        self.failingCalls = failingCalls
    }

    var callCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return calls
    }

    /// Every put received, in order.
    var puts: [Etcdserverpb_PutRequest] {
        lock.lock()
        defer { lock.unlock() }
        return putRequests
    }

    private func record(_ put: Etcdserverpb_PutRequest) {
        lock.lock()
        defer { lock.unlock() }
        putRequests.append(put)
    }

    private func answer() throws -> Etcdserverpb_ResponseHeader {
        lock.lock()
        calls += 1
        let call = calls
        lock.unlock()
        if let failure, call <= failingCalls ?? Int.max { throw failure }
        var header = Etcdserverpb_ResponseHeader()
        header.memberID = memberID
        header.revision = 1
        return header
    }

    func range(request: Etcdserverpb_RangeRequest, context: ServerContext) async throws -> Etcdserverpb_RangeResponse {
        var response = Etcdserverpb_RangeResponse()
        response.header = try answer()
        var kv = Mvccpb_KeyValue()
        kv.key = request.key
        kv.value = Data("from \(memberID)".utf8)
        response.kvs = [kv]
        response.count = 1
        return response
    }

    func put(request: Etcdserverpb_PutRequest, context: ServerContext) async throws -> Etcdserverpb_PutResponse {
        record(request)
        var response = Etcdserverpb_PutResponse()
        response.header = try answer()
        return response
    }

    func deleteRange(request: Etcdserverpb_DeleteRangeRequest, context: ServerContext) async throws
        -> Etcdserverpb_DeleteRangeResponse
    {
        var response = Etcdserverpb_DeleteRangeResponse()
        response.header = try answer()
        return response
    }

    func txn(request: Etcdserverpb_TxnRequest, context: ServerContext) async throws -> Etcdserverpb_TxnResponse {
        var response = Etcdserverpb_TxnResponse()
        response.header = try answer()
        return response
    }

    func compact(request: Etcdserverpb_CompactionRequest, context: ServerContext) async throws
        -> Etcdserverpb_CompactionResponse
    {
        var response = Etcdserverpb_CompactionResponse()
        response.header = try answer()
        return response
    }
}

/// Runs `body` with one gRPC server per service on 127.0.0.1 (ports chosen by the kernel), and
/// stops them when `body` returns or throws.
func withFakeServers<Result: Sendable>(
    _ services: [any RegistrableRPCService],
    _ body: ([Int]) async throws -> Result
) async throws -> Result {
    try await withFakeServers(serving: services.map { [$0] }, body)
}

/// Runs `body` with one gRPC server per list of services (a KV and a Lease service on one port,
/// say), as ``withFakeServers(_:_:)`` does.
func withFakeServers<Result: Sendable>(
    serving servicesByServer: [[any RegistrableRPCService]],
    _ body: ([Int]) async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
        var servers: [GRPCServer<HTTP2ServerTransport.Posix>] = []
        var ports: [Int] = []
        for services in servicesByServer {
            let transport = HTTP2ServerTransport.Posix(
                address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext)
            let server = GRPCServer(transport: transport, services: services)
            group.addTask { try await server.serve() }
            servers.append(server)
            guard let port = try await transport.listeningAddress.ipv4?.port else {
                throw TestSetupError("the fake server has no IPv4 listening address")
            }
            ports.append(port)
        }
        let outcome: Swift.Result<Result, any Error>
        do {
            outcome = .success(try await body(ports))
        } catch {
            outcome = .failure(error)
        }
        for server in servers { server.beginGracefulShutdown() }
        group.cancelAll()
        while let _ = try? await group.next() {}
        return try outcome.get()
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A loopback port with nothing listening: connecting to it is refused.
func closedPort() throws -> Int {
    let socket = try BoundSocket(listen: false)
    return socket.port  // closed when `socket` goes away
}

/// A loopback socket: bound, and optionally listening without ever accepting, so that a client's
/// TCP connection completes in the kernel but no HTTP/2 answer ever comes (a hung server).
final class BoundSocket {
    let descriptor: Int32
    let port: Int

    init(listen: Bool) throws {
        #if canImport(Glibc)
            let descriptor = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let descriptor = Darwin.socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw TestSetupError("socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            close(descriptor)
            throw TestSetupError("bind() failed: errno \(errno)")
        }
        if listen {
            #if canImport(Glibc)
                let listening = Glibc.listen(descriptor, 16)
            #else
                let listening = Darwin.listen(descriptor, 16)
            #endif
            guard listening == 0 else {
                close(descriptor)
                throw TestSetupError("listen() failed: errno \(errno)")
            }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else {
            close(descriptor)
            throw TestSetupError("getsockname() failed: errno \(errno)")
        }
        self.descriptor = descriptor
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }
}
