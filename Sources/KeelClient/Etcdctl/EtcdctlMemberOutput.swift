import Foundation
public import KeelProto

/// etcdctl 3.4's outputs for member add, remove, update and promote. Its simple format prints one
/// line naming the member (in Go's `%16x`, space-padded) and the cluster; JSON prints the response;
/// table is not a format these commands have, and etcdctl says so only after the change is made,
/// as kvctl does (the printer runs once the answer is in).
extension EtcdctlPrinter {
    /// `member add`: "Member ID added to cluster ID", for a learner as for a voter (etcd 3.5 adds
    /// "as learner"; 3.4 does not). In the simple format the command goes on with
    /// ``memberAddEnvironment(name:peerURLs:newMemberID:members:)``.
    public func memberAdd(_ response: Etcdserverpb_MemberAddResponse) throws(EtcdctlUsageError) -> CommandOutput {
        try noTable()
        if format == .json { return CommandOutput(stdout: GoJSON.encode(Self.json(response)) + "\n") }
        return CommandOutput(stdout: Self.memberLine(response.member.id, "added to", response.header.clusterID))
    }

    /// Whether `member add` goes on to print the new member's environment, for which it needs the
    /// member list: in the simple format only.
    public var memberAddPrintsEnvironment: Bool { format == .simple }

    /// What `member add` prints after its first line in the simple format: a blank line, then the
    /// variables to start the new member with. ETCD_INITIAL_CLUSTER has a `name=url` for every peer
    /// URL of every member in `members` (in the list's order), the new member under `name`, a member
    /// not started yet under its empty name; ETCD_INITIAL_ADVERTISE_PEER_URLS is `--peer-urls` as given.
    public func memberAddEnvironment(name: String, peerURLs: String, newMemberID: UInt64, members: [Etcdserverpb_Member])
        -> CommandOutput
    {
        let cluster = members.flatMap { member in
            member.peerUrls.map { url in "\(member.id == newMemberID ? name : member.name)=\(url)" }
        }
        return CommandOutput(
            stdout: "\n"
                + "ETCD_NAME=\(GoInteger.goQuote(name))\n"
                + "ETCD_INITIAL_CLUSTER=\(GoInteger.goQuote(cluster.joined(separator: ",")))\n"
                + "ETCD_INITIAL_ADVERTISE_PEER_URLS=\(GoInteger.goQuote(peerURLs))\n"
                + "ETCD_INITIAL_CLUSTER_STATE=\"existing\"\n")
    }

    /// `member remove ID`: the id as given, since the answer does not repeat it.
    public func memberRemove(id: UInt64, _ response: Etcdserverpb_MemberRemoveResponse) throws(EtcdctlUsageError) -> CommandOutput {
        try noTable()
        if format == .json {
            return CommandOutput(stdout: GoJSON.encode(Self.json(header: response.hasHeader, response.header, response.members)) + "\n")
        }
        return CommandOutput(stdout: Self.memberLine(id, "removed from", response.header.clusterID))
    }

    /// `member update ID --peer-urls=...`.
    public func memberUpdate(id: UInt64, _ response: Etcdserverpb_MemberUpdateResponse) throws(EtcdctlUsageError) -> CommandOutput {
        try noTable()
        if format == .json {
            return CommandOutput(stdout: GoJSON.encode(Self.json(header: response.hasHeader, response.header, response.members)) + "\n")
        }
        return CommandOutput(stdout: Self.memberLine(id, "updated in", response.header.clusterID))
    }

    /// `member promote ID`.
    public func memberPromote(id: UInt64, _ response: Etcdserverpb_MemberPromoteResponse) throws(EtcdctlUsageError) -> CommandOutput {
        try noTable()
        if format == .json {
            return CommandOutput(stdout: GoJSON.encode(Self.json(header: response.hasHeader, response.header, response.members)) + "\n")
        }
        return CommandOutput(stdout: Self.memberLine(id, "promoted in", response.header.clusterID))
    }

    private static func memberLine(_ id: UInt64, _ verb: String, _ clusterID: UInt64) -> String {
        "Member \(EtcdctlMemberID.padded(id)) \(verb) cluster \(EtcdctlMemberID.padded(clusterID))\n"
    }

    static func json(_ response: Etcdserverpb_MemberAddResponse) -> GoJSON.Value {
        GoJSON.object([
            ("header", response.hasHeader ? json(response.header) : .null),
            ("member", response.hasMember ? json(response.member) : .null),
            ("members", .array(response.members.map(json))),
        ])
    }

    /// The remove, update and promote responses, which have the same fields: header and members.
    private static func json(header present: Bool, _ header: Etcdserverpb_ResponseHeader, _ members: [Etcdserverpb_Member]) -> GoJSON.Value {
        GoJSON.object([("header", present ? json(header) : .null), ("members", .array(members.map(json)))])
    }
}
