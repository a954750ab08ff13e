/// `--cert-file`, `--key-file`, `--trusted-ca-file`, `--client-cert-auth` and their `--peer-*`
/// twins, checked against the URLs' schemes as etcd 3.4 checks them: an `https` URL without a
/// certificate is refused; certificates or client-cert-auth beside `http` URLs only are ignored
/// with a warning (``ServerConfig/tlsWarnings``).
extension ConfigValues {
    /// The client side's settings.
    func resolveClientTLS(listenURLs: [ServerURL]) throws(ConfigError) -> TLSFiles {
        let files = try resolveTLSFiles(cert: .certFile, key: .keyFile, trustedCA: .trustedCAFile, auth: .clientCertAuth)
        if files.isEmpty, let https = listenURLs.first(where: \.usesTLS) {
            throw ConfigError(
                "\(describe(.listenClientURLs)): \(https) uses TLS, which needs \(describe(.certFile)) and \(describe(.keyFile))")
        }
        return files
    }

    /// The peer side's settings. Dialling an `https` peer needs them as much as listening on one.
    func resolvePeerTLS(listenURL: ServerURL, advertised: [ServerURL], cluster: [InitialMember]) throws(ConfigError) -> TLSFiles {
        let files = try resolveTLSFiles(
            cert: .peerCertFile, key: .peerKeyFile, trustedCA: .peerTrustedCAFile, auth: .peerClientCertAuth)
        guard files.isEmpty else { return files }
        let needing: [(ConfigSetting, ServerURL?)] = [
            (.listenPeerURLs, listenURL.usesTLS ? listenURL : nil),
            (.initialAdvertisePeerURLs, advertised.first(where: \.usesTLS)),
            (.initialCluster, cluster.flatMap(\.peerURLs).first(where: \.usesTLS)),
        ]
        for case (let setting, let url?) in needing {
            throw ConfigError(
                "\(describe(setting)): \(url) uses TLS, which needs \(describe(.peerCertFile)) and \(describe(.peerKeyFile))")
        }
        return files
    }

    private func resolveTLSFiles(
        cert: ConfigSetting, key: ConfigSetting, trustedCA: ConfigSetting, auth: ConfigSetting
    ) throws(ConfigError) -> TLSFiles {
        func path(_ setting: ConfigSetting) throws(ConfigError) -> String? {
            guard let text = self[setting]?.text else { return nil }
            let trimmed = text.trimmingWhitespace()
            // etcd's sample config file writes `cert-file:` with nothing: not set.
            return trimmed.isEmpty ? nil : trimmed
        }
        let files = TLSFiles(
            certFile: try path(cert), keyFile: try path(key), trustedCAFile: try path(trustedCA),
            clientCertAuth: try bool(auth))
        if files.certFile != nil, files.keyFile == nil {
            throw ConfigError("\(describe(cert)) is given without \(describe(key)); give both")
        }
        if files.keyFile != nil, files.certFile == nil {
            throw ConfigError("\(describe(key)) is given without \(describe(cert)); give both")
        }
        if files.clientCertAuth, files.trustedCAFile == nil {
            throw ConfigError("\(describe(auth)) needs \(describe(trustedCA)): the CA that the certificates it asks for must be signed by")
        }
        return files
    }

    /// A boolean as Go's `strconv.ParseBool` reads it (etcd's flags, keys and variables).
    private func bool(_ setting: ConfigSetting) throws(ConfigError) -> Bool {
        guard let text = self[setting]?.text.trimmingWhitespace() else { return false }
        switch text {
        case "1", "t", "T", "true", "TRUE", "True": return true
        case "0", "f", "F", "false", "FALSE", "False": return false
        default: throw ConfigError("\(describe(setting)): '\(text)' is neither true nor false")
        }
    }
}

extension ServerConfig {
    /// etcd's warnings for TLS settings that no URL uses: certificates or client-cert-auth given
    /// while the URLs they would apply to are all `http`. kvd logs them at start.
    public var tlsWarnings: [String] {
        var warnings: [String] = []
        let plainClient = listenClientURLs.filter { !$0.usesTLS }
        if !clientTLS.isEmpty, !plainClient.isEmpty {
            warnings.append(
                "client URL(s) \(plainClient.map(\.description).joined(separator: ", ")) use http: --cert-file and --key-file are ignored there")
        }
        if clientTLS.clientCertAuth, !plainClient.isEmpty {
            warnings.append(
                "client URL(s) \(plainClient.map(\.description).joined(separator: ", ")) use http: --client-cert-auth is ignored there")
        }
        if !listenPeerURL.usesTLS, !peerTLS.isEmpty {
            warnings.append("peer URL \(listenPeerURL) uses http: --peer-cert-file and --peer-key-file are ignored for accepted connections")
        }
        if !listenPeerURL.usesTLS, peerTLS.clientCertAuth {
            warnings.append("peer URL \(listenPeerURL) uses http: --peer-client-cert-auth is ignored")
        }
        return warnings
    }
}
