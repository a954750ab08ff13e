import KeelNode
import Raft

extension ServerConfig {
    /// The ids of the initial members, in `--initial-cluster` order: etcd-like hashes of each
    /// member's canonical peer URLs and the cluster token, so every member computes the same.
    public var memberInfos: [MemberInfo] {
        initialCluster.map { member in
            let urls = member.peerURLs.map(\.description)
            return MemberInfo(
                id: MemberIdentity.memberID(peerURLs: urls, clusterToken: initialClusterToken),
                name: member.name, peerURLs: urls,
                clientURLs: member.name == name ? advertiseClientURLs.map(\.description) : []
            )
        }
    }

    /// The node's configuration: ids, timers in ticks, limits.
    public var nodeConfig: NodeConfig {
        var members = memberInfos
        guard let me = members.first(where: { $0.name == name }) else {
            preconditionFailure("resolve() guarantees --name is in --initial-cluster")
        }
        var selfID = me.id
        var clusterID = MemberIdentity.clusterID(memberIDs: members.map(\.id), clusterToken: initialClusterToken)
        if let existingIdentity {
            selfID = existingIdentity.memberID
            clusterID = existingIdentity.clusterID
            members = existingIdentity.members
        }
        var config = NodeConfig(
            name: name, dataDirectory: dataDirectory, members: members, selfID: selfID, clusterID: clusterID,
            clusterToken: initialClusterToken, isNewCluster: initialClusterState == .new
        )
        // One tick is one heartbeat (etcd's TickMs); the election timeout counts whole ticks.
        config.tickInterval = .milliseconds(heartbeatIntervalMilliseconds)
        config.electionTimeoutTicks = electionTimeoutMilliseconds / heartbeatIntervalMilliseconds
        config.snapshotEntries = snapshotCount
        config.maxRequestBytes = maxRequestBytes
        // etcd's reading: 0 means the default quota, a negative number none.
        config.autoCompaction = autoCompaction
        config.restoreFrom = restoreFrom
        config.quotaBytes = quotaBackendBytes == 0 ? ServerConfig.Defaults.quotaBackendBytes : max(0, Int64(quotaBackendBytes))
        config.clientURLs = advertiseClientURLs.map(\.description)
        config.leaseCheckpointInterval = .milliseconds(leaseCheckpointIntervalMilliseconds)
        config.readMode = readMode
        // The drift bound only shortens leader leases; under ReadIndex no read relies on one, so a
        // drift that would leave no lease with a short election timeout must not refuse the start.
        config.leaseClockDriftBoundTicks =
            readMode == .lease
            ? (leaseReadClockDriftMilliseconds + heartbeatIntervalMilliseconds - 1) / heartbeatIntervalMilliseconds : 0
        return config
    }
}
