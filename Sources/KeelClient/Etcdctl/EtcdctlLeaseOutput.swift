import Foundation
public import KeelProto

/// etcdctl 3.4's lease outputs. In JSON, etcdctl prints clientv3's own lease structs rather than the
/// gRPC messages: their response header is embedded, so its fields sit at the top level, and the
/// lease fields are named by Go field name ("ID", "TTL") or by tag ("id", "granted-ttl") without
/// `omitempty`, so zeros are printed. Only `lease revoke` prints the gRPC message itself.
extension EtcdctlPrinter {
    /// `lease grant`.
    public func leaseGrant(_ response: Etcdserverpb_LeaseGrantResponse) throws(EtcdctlUsageError) -> CommandOutput {
        try noTable()
        if format == .json {
            return Self.jsonLine(
                Self.inlineHeader(response.hasHeader, response.header)
                    + [("ID", .int(response.id)), ("TTL", .int(response.ttl)), ("Error", .string(response.error))])
        }
        return CommandOutput(stdout: "lease \(EtcdctlLeaseID.format(response.id)) granted with TTL(\(response.ttl)s)\n")
    }

    /// `lease revoke ID`: the answer names no lease, so the ID comes from the command.
    public func leaseRevoke(id: Int64, _ response: Etcdserverpb_LeaseRevokeResponse) throws(EtcdctlUsageError) -> CommandOutput {
        try noTable()
        if format == .json {
            return CommandOutput(
                stdout: GoJSON.encode(GoJSON.object([("header", response.hasHeader ? Self.json(response.header) : .null)])) + "\n")
        }
        return CommandOutput(stdout: "lease \(EtcdctlLeaseID.format(id)) revoked\n")
    }

    /// `lease timetolive ID [--keys]`. A missing lease is not an error: etcd answers TTL -1 and
    /// granted TTL 0, which etcdctl prints as "already expired".
    public func leaseTimeToLive(_ response: Etcdserverpb_LeaseTimeToLiveResponse, keys: Bool) throws(EtcdctlUsageError)
        -> CommandOutput
    {
        try noTable()
        if format == .json {
            // A nil Go slice (no keys asked for, or none attached) is null, not [].
            let keyList: GoJSON.Value = response.keys.isEmpty ? .null : .array(response.keys.map { .bytes($0) })
            return Self.jsonLine(
                Self.inlineHeader(response.hasHeader, response.header)
                    + [
                        ("id", .int(response.id)), ("ttl", .int(response.ttl)), ("granted-ttl", .int(response.grantedTtl)),
                        ("keys", keyList),
                    ])
        }
        let id = EtcdctlLeaseID.format(response.id)
        if response.grantedTtl == 0 && response.ttl == -1 {
            return CommandOutput(stdout: "lease \(id) already expired\n")
        }
        var line = "lease \(id) granted with TTL(\(response.grantedTtl)s), remaining(\(response.ttl)s)"
        // Go's %v of a []string: the keys between brackets, separated by spaces, unquoted.
        if keys { line += ", attached keys([" + response.keys.map(Self.text).joined(separator: " ") + "])" }
        return CommandOutput(stdout: line + "\n")
    }

    /// `lease list`.
    public func leaseList(_ response: Etcdserverpb_LeaseLeasesResponse) throws(EtcdctlUsageError) -> CommandOutput {
        try noTable()
        if format == .json {
            // clientv3 makes the slice itself, so an empty list is [], never null.
            let leases = GoJSON.Value.array(response.leases.map { .object([("id", .int($0.id))]) })
            return Self.jsonLine(Self.inlineHeader(response.hasHeader, response.header) + [("leases", leases)])
        }
        let lines = response.leases.map { EtcdctlLeaseID.format($0.id) + "\n" }
        return CommandOutput(stdout: "found \(response.leases.count) leases\n" + lines.joined())
    }

    /// One answer of `lease keep-alive`.
    public func leaseKeepAlive(_ response: Etcdserverpb_LeaseKeepAliveResponse) throws(EtcdctlUsageError) -> CommandOutput {
        try noTable()
        if format == .json {
            return Self.jsonLine(
                Self.inlineHeader(response.hasHeader, response.header) + [("ID", .int(response.id)), ("TTL", .int(response.ttl))])
        }
        return CommandOutput(stdout: "lease \(EtcdctlLeaseID.format(response.id)) keepalived with TTL(\(response.ttl))\n")
    }

    /// The last line of `lease keep-alive` once the lease is gone; etcdctl prints it in the simple
    /// format only.
    public func leaseKeepAliveEnded(id: Int64) -> CommandOutput {
        format == .simple ? CommandOutput(stdout: "lease \(EtcdctlLeaseID.format(id)) expired or revoked.\n") : CommandOutput()
    }

    /// The fields of an embedded `*ResponseHeader`: each `omitempty`, none at all when it is nil.
    private static func inlineHeader(_ present: Bool, _ header: Etcdserverpb_ResponseHeader) -> [(String, GoJSON.Value)] {
        guard present else { return [] }
        return [
            ("cluster_id", GoJSON.Value.uint(header.clusterID)), ("member_id", .uint(header.memberID)),
            ("revision", .int(header.revision)), ("raft_term", .uint(header.raftTerm)),
        ].filter { !$0.1.isEmpty }
    }

    /// An object whose fields are printed as given (the caller has left out the empty `omitempty` ones).
    private static func jsonLine(_ fields: [(String, GoJSON.Value)]) -> CommandOutput {
        CommandOutput(stdout: GoJSON.encode(.object(fields)) + "\n")
    }
}
