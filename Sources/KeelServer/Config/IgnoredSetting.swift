/// A setting that was given but that kvd does not implement: an etcd config-file key or an
/// `ETCD_*` variable. kvd starts without it and names every one in a single warning.
public struct IgnoredSetting: Sendable, Hashable {
    /// The setting's name as a flag would spell it, without `--` (`enable-v2`).
    public var name: String
    /// Where it was given.
    public var origin: ConfigOrigin

    /// Creates one.
    public init(name: String, origin: ConfigOrigin) {
        self.name = name
        self.origin = origin
    }

    /// How the warning names it: the variable, or the key with its file.
    public var described: String {
        switch origin {
        case .environment(let variable): variable
        case .file(let path): "'\(name)' in \(path)"
        case .flag: "--\(name)"
        }
    }

    /// Whether etcd 3.4 knows it; one it does not know is probably a typo.
    public var isEtcdSetting: Bool { EtcdSettingNames.all.contains(name) }

    /// The one warning for all of `settings`, or nil when there are none.
    public static func warning(for settings: [IgnoredSetting]) -> String? {
        guard !settings.isEmpty else { return nil }
        let etcd = settings.filter(\.isEtcdSetting).map(\.described)
        let unknown = settings.filter { !$0.isEtcdSetting }.map(\.described)
        var parts: [String] = []
        if !etcd.isEmpty { parts.append("etcd settings kvd does not implement: \(etcd.joined(separator: ", "))") }
        if !unknown.isEmpty { parts.append("not etcd 3.4 settings either: \(unknown.joined(separator: ", "))") }
        return "ignoring \(settings.count) setting\(settings.count == 1 ? "" : "s") (\(parts.joined(separator: "; ")))"
    }
}
