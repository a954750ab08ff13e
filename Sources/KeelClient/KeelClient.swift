import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import ServiceLifecycle

/// A client of a Keel (or etcd) cluster over etcd's v3 gRPC API, in plaintext HTTP/2.
///
/// It holds one connection per endpoint and sends each call to the endpoint that last answered,
/// passing to the next one when an endpoint is down: connection refused, no connection within the
/// dial timeout, or `Unavailable`. A call that changes data moves on only when its request cannot
/// have reached a server (or the server said it did not take it), so a write is never applied twice
/// by the client's own retry. When every endpoint is passed over, the call goes round them again
/// after a short pause (a connection may be coming back, an election ending), at most
/// ``passesMax`` times. Every call is bounded by the command timeout over all its attempts.
///
/// The connections live in ``run()``; ``withClient(_:isolation:_:)`` runs them around a closure.
/// Failed calls throw ``KeelClientError``.
public final class KeelClient: Sendable {
    /// The configuration the client was made with.
    public let configuration: KeelClientConfiguration
    let connections: [EndpointConnection]
    let preferred: PreferredEndpoint
    /// One per connection, in the same order.
    let breakers: [EndpointBreaker]
    /// Shared by every call of this client.
    let retryBudget = RetryBudget()

    /// How many times a call goes round all its endpoints when each one is passed over.
    static let passesMax = 3
    /// The pause before the second pass; the third waits twice as long.
    static let passPause: Duration = .milliseconds(100)

    /// Server messages (etcd's own) that say a write was refused before it was proposed, so another
    /// member may take it.
    static let notProposedMessages: Set<String> = ["etcdserver: no leader", "etcdserver: not leader"]

    /// Creates a client; no connection opens until ``run()`` runs and a call needs one.
    public init(configuration: KeelClientConfiguration) throws {
        self.configuration = configuration
        self.connections = try configuration.endpoints.map { try EndpointConnection(endpoint: $0, tls: configuration.tls) }
        self.preferred = PreferredEndpoint()
        self.breakers = configuration.endpoints.map { _ in EndpointBreaker() }
    }

    /// The endpoints, in configuration order.
    public var endpoints: [Endpoint] { configuration.endpoints }

    /// Runs the connections until ``beginGracefulShutdown()`` is called and in-flight calls have
    /// finished, or until the task is cancelled.
    public func run() async throws {
        // In a ServiceGroup, graceful shutdown closes the connections once calls finish.
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                for connection in connections {
                    group.addTask { try await connection.grpc.runConnections() }
                }
            }
        } onGracefulShutdown: {
            self.beginGracefulShutdown()
        }
    }

    /// Stops accepting calls and closes the connections once in-flight calls finish.
    public func beginGracefulShutdown() {
        for connection in connections { connection.grpc.beginGracefulShutdown() }
    }

    /// Makes a client, runs it around `body`, and shuts it down when `body` returns or throws.
    public static func withClient<Result: Sendable>(
        _ configuration: KeelClientConfiguration,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (KeelClient) async throws -> Result
    ) async throws -> Result {
        let client = try KeelClient(configuration: configuration)
        return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
            group.addTask { try await client.run() }
            let outcome: Swift.Result<Result, any Error>
            do {
                outcome = .success(try await body(client))
            } catch {
                outcome = .failure(error)
            }
            // body is done, so no call of ours is in flight: close without waiting on dials still
            // pending against dead endpoints.
            client.beginGracefulShutdown()
            group.cancelAll()
            while let _ = try? await group.next() {}
            return try outcome.get()
        }
    }

    /// Whether a call may be sent again to another endpoint after a failure that may have reached a server.
    enum Retry {
        /// Reads: safe to repeat anywhere.
        case idempotent
        /// Writes: repeated only when the request cannot have been taken.
        case mutation
    }

    /// Runs `rpc` against the endpoints in turn (or only `pinned`), as the type comment describes.
    func call<Response: Sendable>(
        _ retry: Retry,
        pinned: Endpoint? = nil,
        _ rpc: @escaping @Sendable (GRPCClient<HTTP2ClientTransport.Posix>, CallOptions) async throws -> Response
    ) async throws -> Response {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: configuration.commandTimeout)
        let order: [Int]
        if let pinned {
            guard let index = connections.firstIndex(where: { $0.endpoint == pinned }) else {
                throw KeelClientError(
                    code: .invalidArgument, message: "endpoint \(pinned) is not one of this client's", mayHaveReachedServer: false)
            }
            order = [index]
        } else {
            let start = preferred.index % connections.count
            let all = (0..<connections.count).map { (start + $0) % connections.count }
            // Endpoints whose breaker is open wait their turn; when every one is open, try them
            // anyway, soonest to reopen first.
            let now = clock.now
            let closed = all.filter { !breakers[$0].isOpen(at: now) }
            order = closed.isEmpty ? all.sorted { (breakers[$0].reopensAt ?? now) < (breakers[$1].reopensAt ?? now) } : closed
        }
        var attempts: [KeelClientError.Attempt] = []
        var deadlinePassed = false
        // Whether any attempt so far may have delivered the request.
        var reachedServer = false
        var attemptsMade = 0
        passes: for pass in 0..<Self.passesMax {
            if pass > 0 {
                // Every endpoint was passed over; one may be reconnecting or electing: wait a little.
                let pause = min(Self.passPause * pass, clock.now.duration(to: deadline))
                guard pause > .zero else {
                    deadlinePassed = true
                    break passes
                }
                try await Task.sleep(for: pause)
            }
            for index in order {
                let connection = connections[index]
                let remaining = clock.now.duration(to: deadline)
                guard remaining > .zero else {
                    deadlinePassed = true
                    break passes
                }
                if attemptsMade > 0, !retryBudget.spend() {
                    // Too many retries lately: fail with what we have rather than hammer the cluster.
                    configuration.logger.debug("retry budget spent: not retrying", metadata: ["endpoint": "\(connection.endpoint)"])
                    break passes
                }
                attemptsMade += 1
                switch await attempt(on: connection, timeout: remaining, rpc) {
                case .success(let response):
                    preferred.index = index
                    breakers[index].recordSuccess()
                    retryBudget.earn()
                    return response
                case .failure(let failure):
                    let passOver: Bool
                    switch failure.kind {
                    case .notConnected, .unavailable:
                        if breakers[index].recordFailure(at: clock.now) {
                            configuration.logger.info(
                                "endpoint unreachable: calls skip it for a while",
                                metadata: ["endpoint": "\(connection.endpoint)", "error": "\(failure.message)"])
                        }
                    case .answered:
                        breakers[index].recordSuccess()
                    }
                    switch failure.kind {
                    case .notConnected:
                        passOver = true
                    case .unavailable(let reached, let message):
                        // The server's own "no leader" says it did not take the request.
                        reachedServer = reachedServer || (reached && !Self.notProposedMessages.contains(message))
                        passOver = retry == .idempotent || !reached || Self.notProposedMessages.contains(message)
                    case .answered:
                        reachedServer = true
                        passOver = false
                    }
                    guard passOver else {
                        throw KeelClientError(
                            code: failure.code, message: failure.message, endpoint: connection.endpoint, attempts: attempts,
                            mayHaveReachedServer: reachedServer)
                    }
                    attempts.append(.init(endpoint: connection.endpoint, code: failure.code, message: failure.message))
                }
            }
        }
        // Each endpoint's latest failure tells the caller most.
        var latest: [KeelClientError.Attempt] = []
        for attempt in attempts.reversed() where !latest.contains(where: { $0.endpoint == attempt.endpoint }) {
            latest.insert(attempt, at: 0)
        }
        attempts = latest
        if deadlinePassed {
            let tried = attempts.isEmpty ? "" : " (" + attempts.map(\.description).joined(separator: "; ") + ")"
            throw KeelClientError(
                code: .deadlineExceeded,
                message: "context deadline exceeded: no answer within the command timeout of \(EtcdctlPrinter.goDuration(configuration.commandTimeout))\(tried)",
                attempts: attempts, mayHaveReachedServer: reachedServer)
        }
        if attempts.count == 1 {
            // One endpoint: its own answer says it best.
            throw KeelClientError(
                code: attempts[0].code, message: attempts[0].message, endpoint: attempts[0].endpoint, attempts: attempts,
                mayHaveReachedServer: reachedServer)
        }
        throw KeelClientError(
            code: .unavailable,
            message: "no endpoint available: " + attempts.map(\.description).joined(separator: "; "),
            attempts: attempts, mayHaveReachedServer: reachedServer)
    }

    /// What grpc-swift says when the server closed the connection before HTTP/2 began.
    static let closedBeforePrefaceText = "closed the connection before completing the HTTP/2 connection preface"

    /// Why one attempt failed.
    struct AttemptFailure: Error {
        enum Kind {
            /// No connection within the dial timeout: the request was never sent.
            case notConnected
            /// `Unavailable`, from the transport or the server.
            case unavailable(reachedServer: Bool, message: String)
            /// Any other answer: final.
            case answered
        }
        var kind: Kind
        var code: RPCError.Code
        var message: String
    }

    private enum AttemptEvent<Response: Sendable>: Sendable {
        case response(Response)
        case dialCheck
    }

    /// One call on one endpoint, given up early when no connection is ready within the dial timeout.
    private func attempt<Response: Sendable>(
        on connection: EndpointConnection,
        timeout: Duration,
        _ rpc: @escaping @Sendable (GRPCClient<HTTP2ClientTransport.Posix>, CallOptions) async throws -> Response
    ) async -> Swift.Result<Response, AttemptFailure> {
        let streamsBefore = connection.streamsOpened.value
        let callOptions = self.callOptions(timeout: timeout)
        let dialWait = min(configuration.dialTimeout, timeout)
        do {
            let response = try await withThrowingTaskGroup(of: AttemptEvent<Response>.self) { group in
                group.addTask { .response(try await rpc(connection.grpc, callOptions)) }
                group.addTask {
                    try await Task.sleep(for: dialWait)
                    return .dialCheck
                }
                while let event = try await group.next() {
                    switch event {
                    case .response(let response):
                        group.cancelAll()
                        return response
                    case .dialCheck:
                        if connection.streamsOpened.value == streamsBefore {
                            group.cancelAll()
                            if dialWait < configuration.dialTimeout {
                                // The command's deadline came before the dial timeout did.
                                throw AttemptFailure(
                                    kind: .notConnected, code: .deadlineExceeded,
                                    message: "context deadline exceeded: no connection within the command timeout of \(EtcdctlPrinter.goDuration(configuration.commandTimeout))"
                                        + (connection.tlsFailures.latest.map { ": \($0)" } ?? ""))
                            }
                            throw AttemptFailure(
                                kind: .notConnected, code: .unavailable,
                                message: "no connection within the dial timeout of \(EtcdctlPrinter.goDuration(configuration.dialTimeout))"
                                    + (connection.tlsFailures.latest.map { ": \($0)" } ?? ""))
                        }
                    }
                }
                preconditionFailure("the call task ends the loop with a response or an error")
            }
            return .success(response)
        } catch let failure as AttemptFailure {
            if case .notConnected = failure.kind, connection.streamsOpened.value != streamsBefore {
                // The connection came up and the stream opened between the dial check and the
                // cancellation: the request may have been sent, so it must not be sent again.
                return .failure(
                    AttemptFailure(
                        kind: .unavailable(reachedServer: true, message: failure.message), code: failure.code,
                        message: "\(failure.message), as the connection came up: the request may have been sent"))
            }
            return .failure(failure)
        } catch let error as RPCError {
            let reachedServer = connection.streamsOpened.value != streamsBefore
            switch error.code {
            case .unavailable:
                let tlsFailure = reachedServer ? nil : connection.tlsFailures.latest
                var message =
                    reachedServer ? error.message : "unavailable: \(tlsFailure ?? error.message)"
                if !reachedServer, !connection.endpoint.usesTLS, error.message.contains(Self.closedBeforePrefaceText) {
                    // A TLS port closes a plaintext client's connection in just this way.
                    message += " (if the server uses TLS, give https:// or --cacert)"
                }
                return .failure(
                    AttemptFailure(
                        kind: .unavailable(reachedServer: reachedServer, message: error.message), code: .unavailable,
                        message: message))
            case .deadlineExceeded where !reachedServer:
                return .failure(
                    AttemptFailure(
                        kind: .notConnected, code: .deadlineExceeded,
                        message: "context deadline exceeded: no connection before the command timeout"
                            + (connection.tlsFailures.latest.map { ": \($0)" } ?? "")))
            case .deadlineExceeded:
                return .failure(
                    AttemptFailure(
                        kind: .answered, code: .deadlineExceeded,
                        message: "context deadline exceeded: no answer within the command timeout of \(EtcdctlPrinter.goDuration(configuration.commandTimeout))"))
            default:
                return .failure(AttemptFailure(kind: .answered, code: error.code, message: error.message))
            }
        } catch is CancellationError {
            return .failure(AttemptFailure(kind: .answered, code: .cancelled, message: "context canceled"))
        } catch {
            return .failure(AttemptFailure(kind: .answered, code: .unknown, message: "\(error)"))
        }
    }
}

extension KeelClient {
    /// The options of every call and stream: fail fast when not connected (the client moves on
    /// itself), the configured message limits, and `timeout` if given.
    func callOptions(timeout: Duration? = nil) -> CallOptions {
        var options = CallOptions.defaults
        options.timeout = timeout
        options.waitForReady = false
        options.maxRequestMessageBytes = configuration.requestMessageBytesMax
        options.maxResponseMessageBytes = configuration.responseMessageBytesMax
        return options
    }
}

/// The index of the endpoint that answered last, where the next call starts.
///
/// `@unchecked Sendable`: the only state is `stored`, and every access holds `lock`.
final class PreferredEndpoint: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = 0

    var index: Int {
        get {
            lock.lock()
            defer { lock.unlock() }
            return stored
        }
        set {
            lock.lock()
            defer { lock.unlock() }
            stored = newValue
        }
    }
}

/// A client runs its connections as a swift-service-lifecycle service: put it in the application's
/// `ServiceGroup` and its connections close on graceful shutdown.
extension KeelClient: Service {}
