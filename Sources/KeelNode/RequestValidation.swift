import KeelStorage

/// etcd's checks before a request is proposed (etcdserver/api/v3rpc/key.go), so a bad request
/// never reaches the log and changes nothing.
enum RequestValidation {
    /// etcd's `--max-txn-ops` default.
    static let txnOpsMax = 128

    static func check(_ command: KVCommand, encodedBytes: Int, maxRequestBytes: Int) throws(KeelError) {
        try check(command)
        guard encodedBytes <= maxRequestBytes else { throw KeelError.requestTooLarge }
    }

    /// The checks that do not depend on size: etcd applies its request limit to proposals only.
    static func check(_ command: KVCommand) throws(KeelError) {
        switch command {
        case .range(let request): try check(request)
        case .put(let request): guard !request.key.isEmpty else { throw KeelError.emptyKey }
        case .deleteRange(let request): guard !request.key.isEmpty else { throw KeelError.emptyKey }
        case .txn(let request):
            try check(request)
            do { try KVStateMachine.checkDuplicateKeys(in: request) } catch { throw map(error) }
        case .compact, .leaseGrant, .leaseRevoke, .leaseCheckpoint, .alarm: break
        }
    }

    static func check(_ request: RangeRequest) throws(KeelError) {
        guard !request.key.isEmpty else { throw KeelError.emptyKey }
    }

    static func check(_ request: TxnRequest) throws(KeelError) {
        guard request.compare.count <= txnOpsMax, request.success.count <= txnOpsMax, request.failure.count <= txnOpsMax else {
            throw KeelError.tooManyOps
        }
        for compare in request.compare where compare.key.isEmpty { throw KeelError.emptyKey }
        for op in request.success + request.failure {
            switch op {
            case .range(let inner): try check(inner)
            case .put(let inner): guard !inner.key.isEmpty else { throw KeelError.emptyKey }
            case .deleteRange(let inner): guard !inner.key.isEmpty else { throw KeelError.emptyKey }
            case .txn(let inner): try check(inner)
            }
        }
    }

    /// A store's answer in etcd's words and codes.
    static func map(_ error: any Error) -> KeelError {
        if let error = error as? KeelError { return error }
        guard let error = error as? StorageError else { return KeelError(.internal, "\(error)") }
        switch error.code {
        case .compacted: return KeelError.compacted
        case .unavailable: return KeelError.futureRevision
        case .emptyKey: return KeelError.emptyKey
        case .valueTooLarge: return KeelError.requestTooLarge
        case .leaseNotFound: return KeelError.leaseNotFound
        case .leaseExists: return KeelError(.failedPrecondition, error.message)
        case .limitExceeded: return KeelError(.resourceExhausted, error.message)
        case .noSpace: return KeelError.noSpace
        case .invalidArgument:
            return KeelError(.invalidArgument, error.message.hasPrefix("etcdserver: ") ? error.message : "etcdserver: " + error.message)
        default: return KeelError(.internal, "etcdserver: \(error)")
        }
    }
}
