import KeelTransport
import NIOSSL

/// The TLS contexts a member serves and dials with, built once at start from
/// ``ServerConfig/clientTLS`` and ``ServerConfig/peerTLS``; nil where every URL is `http`.
public struct ServerTLSContexts: Sendable {
    /// For the `https` client URLs: the server certificate, ALPN `h2` and `http/1.1` (gRPC and
    /// the `/health`-style endpoints share the port), client certificates required with
    /// `--client-cert-auth`.
    public var client: NIOSSLContext?
    /// For the peer transport, when any peer URL is `https`.
    public var peer: PeerTLS?

    /// etcd 3.4's floor.
    static let minimumVersion = TLSVersion.tlsv12

    /// Reads every file the configuration names for the URLs that use TLS.
    ///
    /// - Throws: ``ConfigError`` naming the flag whose file is unreadable, not PEM, or whose key
    ///   does not match its certificate.
    public init(config: ServerConfig) throws(ConfigError) {
        if config.listenClientURLs.contains(where: \.usesTLS) {
            client = try Self.clientContext(config.clientTLS)
        }
        let peerURLs = [config.listenPeerURL] + config.initialAdvertisePeerURLs + config.initialCluster.flatMap(\.peerURLs)
        if peerURLs.contains(where: \.usesTLS) {
            peer = try Self.peerContexts(config.peerTLS)
        }
    }

    private static func clientContext(_ files: TLSFiles) throws(ConfigError) -> NIOSSLContext {
        var tls = try serverConfiguration(
            files, cert: .certFile, key: .keyFile, trustedCA: .trustedCAFile, auth: .clientCertAuth)
        tls.applicationProtocols = ["h2", "http/1.1"]
        return try context(tls, cert: .certFile, key: .keyFile)
    }

    private static func peerContexts(_ files: TLSFiles) throws(ConfigError) -> PeerTLS {
        let server = try serverConfiguration(
            files, cert: .peerCertFile, key: .peerKeyFile, trustedCA: .peerTrustedCAFile, auth: .peerClientCertAuth)
        var client = TLSConfiguration.makeClientConfiguration()
        client.minimumTLSVersion = minimumVersion
        client.certificateChain = server.certificateChain
        client.privateKey = server.privateKey
        // Without a CA file the system's roots judge the peer, as in etcd.
        if let ca = files.trustedCAFile {
            client.trustRoots = .certificates(try PEMFiles.certificates(path: ca, what: ConfigSetting.peerTrustedCAFile.flag))
        }
        client.certificateVerification = .fullVerification
        return PeerTLS(
            server: try context(server, cert: .peerCertFile, key: .peerKeyFile),
            client: try context(client, cert: .peerCertFile, key: .peerKeyFile))
    }

    private static func serverConfiguration(
        _ files: TLSFiles, cert: ConfigSetting, key: ConfigSetting, trustedCA: ConfigSetting, auth: ConfigSetting
    ) throws(ConfigError) -> TLSConfiguration {
        guard let certFile = files.certFile, let keyFile = files.keyFile else {
            preconditionFailure("resolve() refuses an https URL without \(cert.flag) and \(key.flag)")
        }
        let chain = try PEMFiles.certificates(path: certFile, what: cert.flag)
        let privateKey = try PEMFiles.privateKey(path: keyFile, what: key.flag)
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        tls.minimumTLSVersion = minimumVersion
        if let ca = files.trustedCAFile {
            tls.trustRoots = .certificates(try PEMFiles.certificates(path: ca, what: trustedCA.flag))
        }
        // A server checks no host name in a client's certificate, only who signed it.
        tls.certificateVerification = files.clientCertAuth ? .noHostnameVerification : .none
        return tls
    }

    private static func context(_ tls: TLSConfiguration, cert: ConfigSetting, key: ConfigSetting) throws(ConfigError) -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw ConfigError("\(key.flag) and \(cert.flag): cannot be used together (does the key belong to the certificate?): \(error)")
        }
    }
}
