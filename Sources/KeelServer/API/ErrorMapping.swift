import GRPCCore
import KeelNode

/// etcd's gRPC errors: the status codes and message texts its clients (etcdctl, clientv3)
/// recognise.
enum ErrorMapping {
    /// The gRPC status for a node error, as etcd's `togRPCError` chooses it.
    static func code(_ code: KeelError.Code) -> RPCError.Code {
        switch code {
        case .unavailable: .unavailable
        case .resourceExhausted: .resourceExhausted
        case .invalidArgument: .invalidArgument
        case .outOfRange: .outOfRange
        case .deadlineExceeded: .deadlineExceeded
        // etcd answers ErrTimeoutDueToLeaderFail with Unavailable: the client may retry, but
        // must know the write may have happened (the message says so).
        case .unknownOutcome: .unavailable
        case .failedPrecondition: .failedPrecondition
        case .notFound: .notFound
        case .internal: .internalError
        }
    }

    /// Any error thrown while serving a request, as a gRPC status.
    static func rpcError(_ error: any Error) -> RPCError {
        switch error {
        case let error as RPCError:
            return error
        case let error as KeelError:
            return RPCError(code: code(error.code), message: error.message)
        case is CancellationError:
            // The request's deadline passed (grpc-swift cancels the handler) or the client left.
            return RPCError(code: .deadlineExceeded, message: EtcdMessage.deadlineExceeded)
        default:
            return RPCError(code: .unknown, message: "\(error)")
        }
    }
}

/// etcd's error texts for the failures the server detects itself (etcd's `rpctypes`).
enum EtcdMessage {
    static let emptyKey = "etcdserver: key is not provided"
    static let valueProvided = "etcdserver: value is provided"
    static let leaseProvided = "etcdserver: lease is provided"
    static let tooManyOps = "etcdserver: too many operations in txn request"
    static let duplicateKey = "etcdserver: duplicate key given in txn request"
    static let invalidSortOption = "etcdserver: invalid sort option"
    static let deadlineExceeded = "context deadline exceeded"
    /// Not an etcd text: etcd's Go server cannot receive an empty `RequestOp` from its own
    /// clients, so it has none; this names the fault instead of failing obscurely.
    static let emptyRequestOp = "etcdserver: txn operation has no request (range, put, delete_range or txn)"
    /// Not an etcd text either (etcd would read it as the zero value); an enum value no etcd
    /// version defines is refused.
    static let invalidCompare = "etcdserver: txn compare has an unknown target or result"
}
