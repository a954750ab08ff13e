import KeelNode

/// `--auto-compaction-mode` and `--auto-compaction-retention`, read as etcd 3.4 reads them.
extension ConfigValues {
    /// nil when the retention is 0 (etcd's default: no auto-compaction). In `periodic` mode (the
    /// default) the retention is a Go duration (`30m`, `1h30m`) or a whole number of hours; in
    /// `revision` mode, a number of revisions.
    func resolveAutoCompaction() throws(ConfigError) -> AutoCompactor.Policy? {
        func text(_ setting: ConfigSetting) -> String? { self[setting]?.text }
        func what(_ setting: ConfigSetting) -> String { describe(setting) }
        let mode = (text(.autoCompactionMode) ?? "periodic").trimmingWhitespace().lowercased()
        let retention = (text(.autoCompactionRetention) ?? "0").trimmingWhitespace()
        switch mode {
        case "periodic":
            if let hours = Int64(retention) {
                guard hours >= 0 else { throw ConfigError("\(what(.autoCompactionRetention)): '\(retention)' is negative") }
                return hours == 0 ? nil : .periodic(retention: .seconds(hours * 3600))
            }
            guard let duration = Self.goDuration(retention), duration >= .zero else {
                throw ConfigError("\(what(.autoCompactionRetention)): '\(retention)' is neither a duration (30m, 1h) nor a whole number of hours")
            }
            return duration == .zero ? nil : .periodic(retention: duration)
        case "revision":
            guard let revisions = Int64(retention), revisions >= 0 else {
                throw ConfigError("\(what(.autoCompactionRetention)): '\(retention)' is not a number of revisions")
            }
            return revisions == 0 ? nil : .revisions(retention: revisions)
        default:
            throw ConfigError("\(what(.autoCompactionMode)): '\(mode)' is not one of periodic, revision")
        }
    }

    /// Go's `time.ParseDuration` for the units a retention uses: h, m, s, ms, each a whole or
    /// decimal number (`1h30m`, `1.5h`).
    static func goDuration(_ text: String) -> Duration? {
        let units: [(String, Double)] = [("ms", 0.001), ("h", 3600), ("m", 60), ("s", 1)]
        var rest = Substring(text)
        var seconds = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.count)
            seconds += value * scale
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }
}
