extension ConfigValues {
    /// kvd's settings from all three places, each over the one before: the config file
    /// (`--config-file`, or `ETCD_CONFIG_FILE` when that flag is absent), the `ETCD_*`
    /// environment, the flags.
    ///
    /// - Throws: ``ConfigError`` when the config file cannot be read or holds a key neither kvd
    ///   nor etcd knows.
    public static func gather(
        flags: [ConfigSetting: String], configFilePath: String?, environment: [String: String]
    ) throws(ConfigError) -> ConfigValues {
        var values = ConfigValues()
        let filePath = configFilePath ?? environment[EnvironmentConfig.configFileVariable].flatMap { $0.isEmpty ? nil : $0 }
        if let filePath {
            values = try ConfigFile.load(path: filePath)
        }
        return values.overridden(by: EnvironmentConfig.read(environment)).overridden(by: ConfigValues(flags: flags))
    }
}
