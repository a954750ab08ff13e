import KeelNode
import Logging

extension ServerConfig {
    /// Builds the configuration from the given values, filling defaults, and checks it.
    ///
    /// - Throws: ``ConfigError`` naming the flag or key at fault.
    public static func resolve(_ values: ConfigValues) throws(ConfigError) -> ServerConfig {
        var resolver = Resolver(values: values)
        return try resolver.resolve()
    }
}

/// The checks of ``ServerConfig/resolve(_:)``, one function per setting or rule.
private struct Resolver {
    let values: ConfigValues

    func text(_ setting: ConfigSetting) -> String? { values[setting]?.text }
    func what(_ setting: ConfigSetting) -> String { values.describe(setting) }

    mutating func resolve() throws(ConfigError) -> ServerConfig {
        let name = try resolveName()
        let dataDirectory = text(.dataDir) ?? ServerConfig.Defaults.dataDirectory(name: name)
        guard !dataDirectory.trimmingWhitespace().isEmpty else {
            throw ConfigError("\(what(.dataDir)): must not be empty")
        }
        let listenClient = try ServerURL.parseList(text(.listenClientURLs) ?? ServerConfig.Defaults.clientURL, what: what(.listenClientURLs))
        let advertiseClient = try resolveAdvertised(
            .advertiseClientURLs, listen: .listenClientURLs, listenURLs: listenClient, defaultText: ServerConfig.Defaults.clientURL
        )
        let listenPeers = try ServerURL.parseList(text(.listenPeerURLs) ?? ServerConfig.Defaults.peerURL, what: what(.listenPeerURLs))
        guard listenPeers.count == 1 else {
            throw ConfigError("\(what(.listenPeerURLs)): give exactly one URL (the peer transport has one listener), got \(listenPeers.count)")
        }
        let advertisePeers = try resolveAdvertised(
            .initialAdvertisePeerURLs, listen: .listenPeerURLs, listenURLs: listenPeers, defaultText: ServerConfig.Defaults.peerURL
        )
        let cluster = try resolveInitialCluster(name: name, advertisePeers: advertisePeers)
        let state = try resolveClusterState()
        let token = text(.initialClusterToken) ?? ServerConfig.Defaults.clusterToken
        guard !token.trimmingWhitespace().isEmpty else {
            throw ConfigError("\(what(.initialClusterToken)): must not be empty")
        }
        let (heartbeat, election) = try resolveTimers()
        let snapshotCount = try number(.snapshotCount, default: Int(ServerConfig.Defaults.snapshotCount), range: 1...Int(Int32.max))
        let maxRequestBytes = try number(
            .maxRequestBytes, default: ServerConfig.Defaults.maxRequestBytes, range: 1...ServerConfig.Limits.maxRequestBytesMax
        )
        let metrics = try ServerURL.parseList(
            text(.listenMetricsURLs) ?? ServerConfig.Defaults.metricsURLs, what: what(.listenMetricsURLs), allowEmpty: true,
            allowTLS: false
        )
        let logLevel = try resolveLogLevel()
        let checkpointInterval = try number(
            .leaseCheckpointInterval, default: ServerConfig.Defaults.leaseCheckpointIntervalMilliseconds, range: 100...3_600_000)
        var config = ServerConfig(
            name: name, dataDirectory: dataDirectory, listenClientURLs: listenClient, advertiseClientURLs: advertiseClient,
            listenPeerURL: listenPeers[0], initialAdvertisePeerURLs: advertisePeers, initialCluster: cluster,
            initialClusterState: state, initialClusterToken: token, heartbeatIntervalMilliseconds: heartbeat,
            electionTimeoutMilliseconds: election, snapshotCount: UInt64(snapshotCount), maxRequestBytes: maxRequestBytes,
            listenMetricsURLs: metrics, logLevel: logLevel
        )
        config.leaseCheckpointIntervalMilliseconds = checkpointInterval
        config.quotaBackendBytes = try number(.quotaBackendBytes, default: 0, range: Int.min...Int.max)
        config.autoCompaction = try values.resolveAutoCompaction()
        config.restoreFrom = text(.restoreFrom)
        if config.restoreFrom != nil, state != .new {
            throw ConfigError("\(what(.restoreFrom)): a backup starts a new cluster; give --initial-cluster-state new")
        }
        config.clientTLS = try values.resolveClientTLS(listenURLs: listenClient)
        config.peerTLS = try values.resolvePeerTLS(listenURL: listenPeers[0], advertised: advertisePeers, cluster: cluster)
        config.readMode = try resolveReadMode()
        config.watchProgressNotifyIntervalMilliseconds = try number(
            .watchProgressNotifyInterval, default: ServerConfig.Defaults.watchProgressNotifyIntervalMilliseconds, range: 100...86_400_000)
        config.leaseReadClockDriftMilliseconds = try number(
            .leaseReadClockDrift, default: ServerConfig.Defaults.leaseReadClockDriftMilliseconds, range: 0...Int(Int32.max))
        // The lease must outlast one heartbeat: (election - heartbeat - drift) > 0 in whole ticks.
        let driftTicks = (config.leaseReadClockDriftMilliseconds + heartbeat - 1) / heartbeat
        if config.readMode == .lease, driftTicks + 1 >= election / heartbeat {
            throw ConfigError(
                "\(what(.leaseReadClockDrift)): \(config.leaseReadClockDriftMilliseconds) ms leaves no leader lease within an election timeout of \(election) ms "
                    + "(the lease is the election timeout less one heartbeat less the drift)")
        }
        try checkListenersDistinct(config)
        return config
    }

    func resolveName() throws(ConfigError) -> String {
        let name = text(.name) ?? ServerConfig.Defaults.name
        guard !name.trimmingWhitespace().isEmpty else {
            throw ConfigError("\(what(.name)): must not be empty")
        }
        guard !name.contains("="), !name.contains(",") else {
            throw ConfigError("\(what(.name)): '\(name)' must not contain '=' or ',' (they separate --initial-cluster entries)")
        }
        return name
    }

    /// An advertised URL list: given, or else the listen URLs when those were given and are
    /// concrete addresses, or else the default. A wildcard host cannot be advertised: peers and
    /// clients could not dial it.
    func resolveAdvertised(
        _ setting: ConfigSetting, listen: ConfigSetting, listenURLs: [ServerURL], defaultText: String
    ) throws(ConfigError) -> [ServerURL] {
        let urls: [ServerURL]
        if let given = text(setting) {
            urls = try ServerURL.parseList(given, what: what(setting))
        } else if values[listen] != nil {
            if let wildcard = listenURLs.first(where: \.isUnspecifiedHost) {
                throw ConfigError("\(what(setting)) is required when \(what(listen)) listens on the wildcard address \(wildcard)")
            }
            urls = listenURLs
        } else {
            urls = try ServerURL.parseList(defaultText, what: what(setting))
        }
        if let wildcard = urls.first(where: \.isUnspecifiedHost) {
            throw ConfigError("\(what(setting)): \(wildcard) is a wildcard address, which others cannot connect to; advertise a reachable address")
        }
        if let zero = urls.first(where: { $0.port == 0 }) {
            throw ConfigError("\(what(setting)): \(zero) has port 0, which others cannot connect to")
        }
        return urls
    }

    /// `name=url,name=url`. Without the setting the cluster is this member alone at its
    /// advertised peer URLs (etcd does the same when only `--name` is given).
    func resolveInitialCluster(name: String, advertisePeers: [ServerURL]) throws(ConfigError) -> [InitialMember] {
        guard let given = text(.initialCluster) else {
            return [InitialMember(name: name, peerURLs: advertisePeers)]
        }
        let what = what(.initialCluster)
        var members: [InitialMember] = []
        var owners: [ServerURL: String] = [:]
        for entry in given.split(separator: ",").map({ String($0).trimmingWhitespace() }) where !entry.isEmpty {
            guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
                throw ConfigError("\(what): entry '\(entry)' is not name=url")
            }
            let memberName = String(entry[..<equals])
            let url = try ServerURL.parse(String(entry[entry.index(after: equals)...]), what: "\(what) (member '\(memberName)')")
            guard !members.contains(where: { $0.name == memberName }) else {
                throw ConfigError("\(what): member name '\(memberName)' appears more than once")
            }
            if let owner = owners[url] {
                throw ConfigError("\(what): peer URL \(url) is given for both '\(owner)' and '\(memberName)'")
            }
            if url.isUnspecifiedHost || url.port == 0 {
                throw ConfigError("\(what): member '\(memberName)' has \(url), which peers cannot connect to")
            }
            owners[url] = memberName
            members.append(InitialMember(name: memberName, peerURLs: [url]))
        }
        guard !members.isEmpty else {
            throw ConfigError("\(what): no members given")
        }
        guard members.count <= ServerConfig.Limits.membersMax else {
            throw ConfigError("\(what): \(members.count) members, more than the limit of \(ServerConfig.Limits.membersMax)")
        }
        guard let selfEntry = members.first(where: { $0.name == name }) else {
            throw ConfigError(
                "\(values.describe(.name)) '\(name)' is not a member of \(what) (members: \(members.map(\.name).joined(separator: ", ")))"
            )
        }
        guard Set(selfEntry.peerURLs) == Set(advertisePeers) else {
            throw ConfigError(
                "\(values.describe(.initialAdvertisePeerURLs)) (\(advertisePeers.map(\.description).joined(separator: ","))) "
                    + "does not match the \(what) entry for '\(name)' (\(selfEntry.peerURLs.map(\.description).joined(separator: ",")))"
            )
        }
        return members
    }

    func resolveClusterState() throws(ConfigError) -> InitialClusterState {
        let given = text(.initialClusterState) ?? InitialClusterState.new.rawValue
        guard let state = InitialClusterState(rawValue: given.trimmingWhitespace()) else {
            throw ConfigError("\(what(.initialClusterState)): '\(given)' is neither 'new' nor 'existing'")
        }
        return state
    }

    func resolveTimers() throws(ConfigError) -> (heartbeat: Int, election: Int) {
        let heartbeat = try number(
            .heartbeatInterval, default: ServerConfig.Defaults.heartbeatIntervalMilliseconds,
            range: ServerConfig.Limits.heartbeatIntervalMillisecondsMin...ServerConfig.Limits.electionTimeoutMillisecondsMax
        )
        let election = try number(
            .electionTimeout, default: ServerConfig.Defaults.electionTimeoutMilliseconds,
            range: 1...ServerConfig.Limits.electionTimeoutMillisecondsMax
        )
        let ratio = ServerConfig.Limits.electionToHeartbeatRatioMin
        guard election >= ratio * heartbeat else {
            throw ConfigError(
                "\(what(.electionTimeout)) (\(election) ms) must be at least \(ratio) times \(what(.heartbeatInterval)) (\(heartbeat) ms)"
            )
        }
        return (heartbeat, election)
    }

    func number(_ setting: ConfigSetting, default defaultValue: Int, range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard let given = text(setting) else { return defaultValue }
        guard let value = Int(given.trimmingWhitespace()) else {
            throw ConfigError("\(what(setting)): '\(given)' is not a whole number")
        }
        guard range.contains(value) else {
            throw ConfigError("\(what(setting)): \(value) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    func resolveReadMode() throws(ConfigError) -> NodeConfig.ReadMode {
        guard let given = text(.readMode) else { return .readIndex }
        guard let mode = NodeConfig.ReadMode(rawValue: given.trimmingWhitespace().lowercased()) else {
            throw ConfigError("\(what(.readMode)): '\(given)' is not one of readindex, lease")
        }
        return mode
    }

    func resolveLogLevel() throws(ConfigError) -> Logger.Level {
        let given = text(.logLevel) ?? ServerConfig.Defaults.logLevel
        switch given.trimmingWhitespace().lowercased() {
        case "trace": return .trace
        case "debug": return .debug
        case "info": return .info
        case "notice": return .notice
        case "warn", "warning": return .warning
        case "error": return .error
        case "panic", "fatal", "critical": return .critical
        default:
            throw ConfigError("\(what(.logLevel)): '\(given)' is not one of debug, info, warn, error, panic, fatal")
        }
    }

    /// Listeners need IP addresses; two listeners on one address would fail at bind time with a
    /// less helpful message.
    func checkListenersDistinct(_ config: ServerConfig) throws(ConfigError) {
        var seen: [ServerURL: ConfigSetting] = [:]
        let listeners: [(ConfigSetting, [ServerURL])] = [
            (.listenClientURLs, config.listenClientURLs), (.listenPeerURLs, [config.listenPeerURL]),
            (.listenMetricsURLs, config.listenMetricsURLs),
        ]
        for (setting, urls) in listeners {
            if let named = urls.first(where: { !$0.isListenable }) {
                throw ConfigError("\(what(setting)): \(named) must name an IP address to listen on (or localhost), not a host name")
            }
            for url in urls where url.port != 0 {
                if let earlier = seen[url] {
                    throw ConfigError("\(what(setting)): \(url) is also in \(what(earlier)); each listener needs its own port")
                }
                seen[url] = setting
            }
        }
    }
}
