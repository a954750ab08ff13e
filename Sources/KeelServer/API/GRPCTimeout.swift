/// The `grpc-timeout` request header (gRPC over HTTP/2: up to 8 digits and a unit), which
/// grpc-swift enforces by cancelling the handler but does not hand to it. kvd needs the value to
/// give the node a deadline, so a request that cannot finish fails with etcd's error in time
/// instead of being cut off with a bare cancellation.
enum GRPCTimeout {
    /// The header name.
    static let headerName = "grpc-timeout"
    /// The most digits the protocol allows.
    static let digitsMax = 8

    /// The duration in `value`, or nil when it is not a valid timeout.
    static func parse(_ value: String) -> Duration? {
        guard let unit = value.last, value.count >= 2, value.count <= digitsMax + 1 else { return nil }
        let digits = value.dropLast()
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }), let amount = Int64(digits) else { return nil }
        switch unit {
        case "H": return .seconds(amount * 3_600)
        case "M": return .seconds(amount * 60)
        case "S": return .seconds(amount)
        case "m": return .milliseconds(amount)
        case "u": return .microseconds(amount)
        case "n": return .nanoseconds(amount)
        default: return nil
        }
    }
}
