/// The TLS settings of one side of a member, clients or peers, as given: paths, not yet read.
/// ``ServerTLSContexts`` reads them when the member starts.
public struct TLSFiles: Sendable, Hashable {
    /// The certificate chain presented (PEM): `--cert-file` or `--peer-cert-file`.
    public var certFile: String?
    /// Its private key (PEM): `--key-file` or `--peer-key-file`.
    public var keyFile: String?
    /// The CA certificates (PEM) the other side's certificate is checked against:
    /// `--trusted-ca-file` or `--peer-trusted-ca-file`.
    public var trustedCAFile: String?
    /// Whether the other side must present a certificate signed by ``trustedCAFile``:
    /// `--client-cert-auth` or `--peer-client-cert-auth`.
    public var clientCertAuth: Bool

    /// Creates the settings; all absent by default.
    public init(certFile: String? = nil, keyFile: String? = nil, trustedCAFile: String? = nil, clientCertAuth: Bool = false) {
        self.certFile = certFile
        self.keyFile = keyFile
        self.trustedCAFile = trustedCAFile
        self.clientCertAuth = clientCertAuth
    }

    /// Whether no certificate is given (etcd's `TLSInfo.Empty()`).
    public var isEmpty: Bool { certFile == nil && keyFile == nil }
}
