import Foundation
import Yams

/// Reads kvd's YAML config file, whose keys are etcd's config-file keys (the flag names).
public enum ConfigFile {
    /// The largest config file read; a config is a few hundred bytes, so more is a mistake.
    public static let fileBytesMax = 1_048_576

    /// Reads and parses the file at `path`.
    public static func load(path: String) throws(ConfigError) -> ConfigValues {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigError("--config-file: cannot read \(path): \(error.localizedDescription)")
        }
        guard data.count <= fileBytesMax else {
            throw ConfigError("--config-file: \(path) is \(data.count) bytes, more than the limit of \(fileBytesMax)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError("--config-file: \(path) is not UTF-8 text")
        }
        return try parse(yaml: text, path: path)
    }

    /// Parses YAML text: a mapping of keys to scalars, or to sequences of scalars for URL lists.
    /// An etcd key that kvd does not implement is kept in ``ConfigValues/ignored`` (kvd warns and
    /// starts, so an etcd config file works); a key etcd does not know either is refused, so that
    /// a typo does not silently leave a default in place.
    public static func parse(yaml: String, path: String) throws(ConfigError) -> ConfigValues {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError("config file \(path): not valid YAML: \(error)")
        }
        var values = ConfigValues()
        guard let root else { return values }
        guard case .mapping(let mapping) = root else {
            throw ConfigError("config file \(path): expected a mapping of keys to values at the top level")
        }
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                throw ConfigError("config file \(path): a key is not a plain string")
            }
            let key = keyScalar.string
            // An empty value (`wal-dir:` in etcd's sample file) means "not set", whatever the key.
            if valueNode.null != nil { continue }
            if let section = TransportSecuritySection(rawValue: key) {
                try section.read(valueNode, into: &values, path: path)
                continue
            }
            let ignored = IgnoredSetting(name: key, origin: .file(path))
            if ConfigSetting(rawValue: key) == nil, ignored.isEtcdSetting {
                values.ignore(ignored)
                continue
            }
            guard let setting = ConfigSetting(rawValue: key) else {
                let known = ConfigSetting.allCases.map(\.rawValue).joined(separator: ", ")
                throw ConfigError("config file \(path): unknown key '\(key)' (known keys: \(known))")
            }
            let text = try scalarText(valueNode, key: key, path: path)
            values[setting] = ConfigValue(text: text, origin: .file(path))
        }
        return values
    }

    static func scalarText(_ node: Node, key: String, path: String) throws(ConfigError) -> String {
        switch node {
        case .scalar(let scalar):
            return scalar.string
        case .sequence(let sequence):
            var items: [String] = []
            for item in sequence {
                guard case .scalar(let scalar) = item else {
                    throw ConfigError("config key '\(key)' in \(path): list items must be plain values")
                }
                items.append(scalar.string)
            }
            return items.joined(separator: ",")
        case .mapping, .alias:
            throw ConfigError("config key '\(key)' in \(path): expected a value or a list, not a mapping")
        }
    }
}

/// etcd's config file keeps TLS in two sections, `client-transport-security` and
/// `peer-transport-security`, each with `cert-file`, `key-file`, `trusted-ca-file`,
/// `client-cert-auth` and `auto-tls`; the flags spell the peer ones with `peer-`.
enum TransportSecuritySection: String {
    case client = "client-transport-security"
    case peer = "peer-transport-security"

    /// The setting a key of this section sets, nil for one kvd does not implement.
    func setting(forKey key: String) -> ConfigSetting? {
        switch (self, key) {
        case (.client, "cert-file"): .certFile
        case (.client, "key-file"): .keyFile
        case (.client, "trusted-ca-file"): .trustedCAFile
        case (.client, "client-cert-auth"): .clientCertAuth
        case (.peer, "cert-file"): .peerCertFile
        case (.peer, "key-file"): .peerKeyFile
        case (.peer, "trusted-ca-file"): .peerTrustedCAFile
        case (.peer, "client-cert-auth"): .peerClientCertAuth
        default: nil
        }
    }

    /// Reads the section's mapping; keys kvd does not implement (`auto-tls`) are recorded as
    /// ignored under their flag's name.
    func read(_ node: Node, into values: inout ConfigValues, path: String) throws(ConfigError) {
        guard case .mapping(let mapping) = node else {
            throw ConfigError("config key '\(rawValue)' in \(path): expected a mapping (cert-file, key-file, trusted-ca-file, client-cert-auth)")
        }
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                throw ConfigError("config key '\(rawValue)' in \(path): a key is not a plain string")
            }
            let key = keyScalar.string
            if valueNode.null != nil { continue }
            guard let setting = setting(forKey: key) else {
                values.ignore(IgnoredSetting(name: self == .peer ? "peer-" + key : key, origin: .file(path)))
                continue
            }
            let text = try ConfigFile.scalarText(valueNode, key: "\(rawValue): \(key)", path: path)
            values[setting] = ConfigValue(text: text, origin: .file(path))
        }
    }
}
