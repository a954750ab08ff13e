import Foundation
public import KeelProto

/// One endpoint's answer to `endpoint hashkv`.
public struct EndpointHashKV: Sendable {
    /// The endpoint, as given on the command line.
    public var endpoint: String
    /// Its answer.
    public var response: Etcdserverpb_HashKVResponse

    /// Creates a report.
    public init(endpoint: String, response: Etcdserverpb_HashKVResponse) {
        self.endpoint = endpoint
        self.response = response
    }
}

/// etcdctl 3.4's outputs for alarm, endpoint hashkv and move-leader (defrag prints plain lines in
/// every format, which kvctl writes itself).
extension EtcdctlPrinter {
    /// `endpoint hashkv`.
    public func endpointHashKV(_ hashes: [EndpointHashKV]) -> CommandOutput {
        switch format {
        case .json:
            let items = hashes.map { entry in
                GoJSON.Value.object([
                    ("Endpoint", .string(entry.endpoint)),
                    (
                        "HashKV",
                        GoJSON.object([
                            ("header", entry.response.hasHeader ? Self.json(entry.response.header) : .null),
                            ("hash", .uint(UInt64(entry.response.hash))), ("compact_revision", .int(entry.response.compactRevision)),
                        ])
                    ),
                ])
            }
            return CommandOutput(stdout: GoJSON.encode(.array(items)) + "\n")
        case .table:
            let rows = hashes.map { [$0.endpoint, String($0.response.hash)] }
            return CommandOutput(stdout: TextTable.render(header: ["ENDPOINT", "HASH"], rows: rows))
        case .simple:
            return CommandOutput(stdout: hashes.map { "\($0.endpoint), \($0.response.hash)\n" }.joined())
        }
    }

    /// `alarm list` and `alarm disarm`: each alarm in Go's text form of the message.
    public func alarms(_ response: Etcdserverpb_AlarmResponse) throws(EtcdctlUsageError) -> CommandOutput {
        try noTable()
        if format == .json {
            let alarms = response.alarms.map { alarm in
                GoJSON.object([("memberID", .uint(alarm.memberID)), ("alarm", .int(Int64(alarm.alarm.rawValue)))])
            }
            return CommandOutput(
                stdout: GoJSON.encode(
                    GoJSON.object([("header", response.hasHeader ? Self.json(response.header) : .null), ("alarms", .array(alarms))])) + "\n")
        }
        return CommandOutput(stdout: response.alarms.map { "memberID:\($0.memberID) alarm:\(Self.alarmName($0.alarm)) \n" }.joined())
    }

    /// `move-leader`: the leader before and the target, in hex.
    public func moveLeader(from leader: UInt64, to target: UInt64, _ response: Etcdserverpb_MoveLeaderResponse) throws(EtcdctlUsageError)
        -> CommandOutput
    {
        try noTable()
        if format == .json {
            return CommandOutput(
                stdout: GoJSON.encode(GoJSON.object([("header", response.hasHeader ? Self.json(response.header) : .null)])) + "\n")
        }
        return CommandOutput(stdout: "Leadership transferred from \(String(leader, radix: 16)) to \(String(target, radix: 16))\n")
    }

    static func alarmName(_ kind: Etcdserverpb_AlarmType) -> String {
        switch kind {
        case .none: "NONE"
        case .nospace: "NOSPACE"
        case .corrupt: "CORRUPT"
        case .UNRECOGNIZED(let raw): String(raw)
        }
    }
}
