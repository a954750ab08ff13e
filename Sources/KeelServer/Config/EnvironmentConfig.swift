/// etcd's environment variables: `--my-flag` is `ETCD_MY_FLAG`. kvd reads them under its flags
/// and over its config file (etcd ignores both flags and environment when given a config file;
/// kvd merges, as it does for flags).
public enum EnvironmentConfig {
    /// The prefix of every variable read.
    public static let prefix = "ETCD_"
    /// The variable naming the config file (etcd's `ETCD_CONFIG_FILE`), used when no
    /// `--config-file` is given.
    public static let configFileVariable = "ETCD_CONFIG_FILE"

    /// The variable of a setting: `ETCD_LISTEN_CLIENT_URLS`.
    public static func variable(for setting: ConfigSetting) -> String {
        prefix + setting.rawValue.uppercased().replacingDashes(with: "_")
    }

    /// The settings that `environment` gives. A variable for a setting kvd does not implement is
    /// not an error (etcd only warns about those it does not know) but is listed in
    /// ``ConfigValues/ignored`` for the start-up warning.
    public static func read(_ environment: [String: String]) -> ConfigValues {
        var values = ConfigValues()
        for (variable, text) in environment.sorted(by: { $0.key < $1.key }) where variable.hasPrefix(prefix) {
            guard variable != configFileVariable else { continue }
            let name = String(variable.dropFirst(prefix.count)).lowercased().replacingUnderscores(with: "-")
            if let setting = ConfigSetting(rawValue: name) {
                values[setting] = ConfigValue(text: text, origin: .environment(variable))
            } else {
                values.ignore(IgnoredSetting(name: name, origin: .environment(variable)))
            }
        }
        return values
    }
}

extension String {
    fileprivate func replacingDashes(with replacement: String) -> String {
        split(separator: "-", omittingEmptySubsequences: false).joined(separator: replacement)
    }

    fileprivate func replacingUnderscores(with replacement: String) -> String {
        split(separator: "_", omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
