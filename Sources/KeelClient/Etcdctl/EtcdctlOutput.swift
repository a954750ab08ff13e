import Foundation
public import KeelProto

/// etcdctl's `--write-out` formats that kvctl has.
public enum OutputFormat: String, Sendable, CaseIterable {
    /// Plain lines (the default).
    case simple
    /// One line of JSON shaped like etcd's response structs.
    case json
    /// A boxed table; only member list, endpoint status and endpoint health have one.
    case table
}

/// What a command prints: text for standard output and for standard error.
public struct CommandOutput: Equatable, Sendable {
    /// Text for standard output.
    public var stdout: String
    /// Text for standard error (etcdctl prints `endpoint health` lines there).
    public var stderr: String

    /// Creates the output.
    public init(stdout: String = "", stderr: String = "") {
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// The health of one endpoint, as `endpoint health` reports it.
public struct EndpointHealth: Sendable, Equatable {
    /// The endpoint, as given on the command line.
    public var endpoint: String
    /// Whether a linearizable read went through.
    public var healthy: Bool
    /// How long the read took.
    public var took: Duration
    /// Why it is unhealthy; empty when healthy.
    public var error: String

    /// Creates a report.
    public init(endpoint: String, healthy: Bool, took: Duration, error: String) {
        self.endpoint = endpoint
        self.healthy = healthy
        self.took = took
        self.error = error
    }
}

/// The status of one endpoint as `endpoint status` reports it: the answer, or why there was none.
public struct EndpointStatus: Sendable {
    /// The endpoint, as given on the command line.
    public var endpoint: String
    /// Its answer.
    public var status: Etcdserverpb_StatusResponse

    /// Creates a report.
    public init(endpoint: String, status: Etcdserverpb_StatusResponse) {
        self.endpoint = endpoint
        self.status = status
    }
}

/// Renders responses as etcdctl 3.4 prints them, for each `--write-out` format.
public struct EtcdctlPrinter: Sendable {
    /// The format chosen with `--write-out`.
    public var format: OutputFormat
    /// `get --print-value-only`: values without keys.
    public var valueOnly: Bool

    /// Creates a printer.
    public init(format: OutputFormat, valueOnly: Bool = false) {
        self.format = format
        self.valueOnly = valueOnly
    }

    func noTable() throws(EtcdctlUsageError) {
        if format == .table {
            throw EtcdctlUsageError(
                "table not supported as output format", exitCode: EtcdctlUsageError.badFeatureExitCode)
        }
    }

    /// `put`.
    public func put(_ response: Etcdserverpb_PutResponse) throws(EtcdctlUsageError) -> CommandOutput {
        try noTable()
        if format == .json { return CommandOutput(stdout: GoJSON.encode(Self.json(response)) + "\n") }
        var out = "OK\n"
        if response.hasPrevKv { out += Self.keyValue(response.prevKv, valueOnly: false) }
        return CommandOutput(stdout: out)
    }

    /// `get`.
    public func get(_ response: Etcdserverpb_RangeResponse) throws(EtcdctlUsageError) -> CommandOutput {
        try noTable()
        if format == .json { return CommandOutput(stdout: GoJSON.encode(Self.json(response)) + "\n") }
        return CommandOutput(stdout: response.kvs.map { Self.keyValue($0, valueOnly: valueOnly) }.joined())
    }

    /// `del`.
    public func delete(_ response: Etcdserverpb_DeleteRangeResponse) throws(EtcdctlUsageError) -> CommandOutput {
        try noTable()
        if format == .json { return CommandOutput(stdout: GoJSON.encode(Self.json(response)) + "\n") }
        return CommandOutput(stdout: Self.deleted(response))
    }

    /// `txn`.
    public func txn(_ response: Etcdserverpb_TxnResponse) throws(EtcdctlUsageError) -> CommandOutput {
        try noTable()
        if format == .json { return CommandOutput(stdout: GoJSON.encode(Self.json(response)) + "\n") }
        var out = response.succeeded ? "SUCCESS\n" : "FAILURE\n"
        for op in response.responses {
            out += "\n"
            switch op.response {
            case .responseRange(let range): out += range.kvs.map { Self.keyValue($0, valueOnly: false) }.joined()
            case .responsePut(let put):
                out += "OK\n"
                if put.hasPrevKv { out += Self.keyValue(put.prevKv, valueOnly: false) }
            case .responseDeleteRange(let delete): out += Self.deleted(delete)
            case .responseTxn, .none: out += "unexpected response \(op)\n"
            }
        }
        return CommandOutput(stdout: out)
    }

    /// `compaction`: etcdctl prints the same line in every format.
    public func compaction(revision: Int64) -> CommandOutput {
        CommandOutput(stdout: "compacted revision \(revision)\n")
    }

    /// `member list`.
    public func memberList(_ response: Etcdserverpb_MemberListResponse) -> CommandOutput {
        let header = ["ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER"]
        let rows = response.members.map { member in
            [
                String(member.id, radix: 16), member.name.isEmpty ? "unstarted" : "started", member.name,
                member.peerUrls.joined(separator: ","), member.clientUrls.joined(separator: ","),
                String(member.isLearner),
            ]
        }
        switch format {
        case .json: return CommandOutput(stdout: GoJSON.encode(Self.json(response)) + "\n")
        case .table: return CommandOutput(stdout: TextTable.render(header: header, rows: rows))
        case .simple: return CommandOutput(stdout: rows.map { $0.joined(separator: ", ") + "\n" }.joined())
        }
    }

    /// `endpoint status`.
    public func endpointStatus(_ statuses: [EndpointStatus]) -> CommandOutput {
        let header = [
            "ENDPOINT", "ID", "VERSION", "DB SIZE", "IS LEADER", "IS LEARNER", "RAFT TERM", "RAFT INDEX",
            "RAFT APPLIED INDEX", "ERRORS",
        ]
        let rows = statuses.map { entry in
            let status = entry.status
            return [
                entry.endpoint, String(status.header.memberID, radix: 16), status.version,
                Self.humanBytes(UInt64(max(0, status.dbSize))), String(status.leader == status.header.memberID),
                String(status.isLearner), String(status.raftTerm), String(status.raftIndex),
                String(status.raftAppliedIndex), status.errors.joined(separator: ", "),
            ]
        }
        switch format {
        case .json:
            let items = statuses.map { entry in
                GoJSON.Value.object([("Endpoint", .string(entry.endpoint)), ("Status", Self.json(entry.status))])
            }
            return CommandOutput(stdout: GoJSON.encode(.array(items)) + "\n")
        case .table: return CommandOutput(stdout: TextTable.render(header: header, rows: rows))
        case .simple: return CommandOutput(stdout: rows.map { $0.joined(separator: ", ") + "\n" }.joined())
        }
    }

    /// `endpoint health`: etcdctl prints the simple form on standard error.
    public func endpointHealth(_ reports: [EndpointHealth]) -> CommandOutput {
        switch format {
        case .json:
            let items = reports.map { report in
                // Only "error" is omitempty in etcdctl's health struct.
                GoJSON.Value.object(
                    [
                        ("endpoint", .string(report.endpoint)), ("health", .bool(report.healthy)),
                        ("took", .string(Self.goDuration(report.took))),
                    ] + (report.error.isEmpty ? [] : [("error", .string(report.error))]))
            }
            return CommandOutput(stdout: GoJSON.encode(.array(items)) + "\n")
        case .table:
            let rows = reports.map { [$0.endpoint, String($0.healthy), Self.goDuration($0.took), $0.error] }
            return CommandOutput(stdout: TextTable.render(header: ["ENDPOINT", "HEALTH", "TOOK", "ERROR"], rows: rows))
        case .simple:
            let lines = reports.map { report in
                report.healthy
                    ? "\(report.endpoint) is healthy: successfully committed proposal: took = \(Self.goDuration(report.took))\n"
                    : "\(report.endpoint) is unhealthy: failed to commit proposal: \(report.error)\n"
            }
            return CommandOutput(stderr: lines.joined())
        }
    }

    // MARK: simple pieces

    private static func keyValue(_ kv: Mvccpb_KeyValue, valueOnly: Bool) -> String {
        (valueOnly ? "" : text(kv.key) + "\n") + text(kv.value) + "\n"
    }

    private static func deleted(_ response: Etcdserverpb_DeleteRangeResponse) -> String {
        "\(response.deleted)\n" + response.prevKvs.map { keyValue($0, valueOnly: false) }.joined()
    }

    /// Bytes printed as they are, like Go's `string(bytes)`; invalid UTF-8 shows as U+FFFD.
    static func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

    /// Sizes in SI units the way etcdctl's humanize library writes them: "512 B", "20 kB", "1.5 MB".
    public static func humanBytes(_ bytes: UInt64) -> String {
        if bytes < 10 { return "\(bytes) B" }
        let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
        let exponent = min(Int((log(Double(bytes)) / log(1000)).rounded(.down)), units.count - 1)
        let value = (Double(bytes) / pow(1000, Double(exponent)) * 10 + 0.5).rounded(.down) / 10
        let number = value < 10 ? String(format: "%.1f", value) : String(format: "%.0f", value)
        return "\(number) \(units[exponent])"
    }

    /// A duration written like Go's `time.Duration.String()`: "1.556428ms", "850µs", "2.5s", "1m30s".
    public static func goDuration(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        if nanoseconds == 0 { return "0s" }
        let negative = nanoseconds < 0
        let magnitude = UInt64(abs(nanoseconds))
        func fraction(_ value: UInt64, digits: Int) -> String {
            let unit = UInt64(pow(10, Double(digits)))
            let whole = value / unit
            var rest = String(value % unit)
            rest = String(repeating: "0", count: digits - rest.count) + rest
            while rest.hasSuffix("0") { rest.removeLast() }
            return rest.isEmpty ? "\(whole)" : "\(whole).\(rest)"
        }
        let text: String
        if magnitude < 1_000 {
            text = "\(magnitude)ns"
        } else if magnitude < 1_000_000 {
            text = fraction(magnitude, digits: 3) + "µs"
        } else if magnitude < 1_000_000_000 {
            text = fraction(magnitude, digits: 6) + "ms"
        } else {
            let hours = magnitude / 3_600_000_000_000
            let minutes = magnitude / 60_000_000_000 % 60
            let secondsPart = fraction(magnitude % 60_000_000_000, digits: 9) + "s"
            text = (hours > 0 ? "\(hours)h\(minutes)m" : minutes > 0 ? "\(minutes)m" : "") + secondsPart
        }
        return negative ? "-" + text : text
    }
}
