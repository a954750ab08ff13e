/// What `/health` answers: etcd's `{"health":"true"}` with 200, or `{"health":"false","reason":...}`
/// with 503 so that load balancers and `curl --fail` see an unhealthy member as failing.
public struct HealthReport: Sendable, Hashable {
    /// Whether the member can serve requests (it knows a leader).
    public var healthy: Bool
    /// Why not, when not healthy (etcd's reasons, e.g. `RAFT NO LEADER`).
    public var reason: String

    /// Creates a report.
    public init(healthy: Bool, reason: String = "") {
        self.healthy = healthy
        self.reason = reason
    }

    /// The JSON body etcd sends.
    public var json: String {
        if healthy { return #"{"health":"true"}"# }
        // etcd 3.4.23 answers an alarm with no reason at all.
        return reason.isEmpty ? #"{"health":"false"}"# : #"{"health":"false","reason":"\#(Self.escaped(reason))"}"#
    }

    /// The HTTP status code.
    public var statusCode: Int { healthy ? 200 : 503 }

    static func escaped(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
