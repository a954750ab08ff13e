/// How a ``KeelClient`` speaks TLS to `https` endpoints: etcdctl's `--cacert`, `--cert`, `--key`
/// and `--insecure-skip-tls-verify`. Files are PEM.
public struct KeelClientTLS: Sendable, Hashable {
    /// The CA certificates the server's certificate must be signed by; nil: the system's roots.
    public var trustedCAFile: String?
    /// The client certificate presented (for servers started with `--client-cert-auth`).
    public var certificateFile: String?
    /// The private key of ``certificateFile``.
    public var keyFile: String?
    /// Accept any server certificate (encryption without authentication of the server).
    public var skipServerVerification: Bool

    /// Creates the settings.
    public init(
        trustedCAFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, skipServerVerification: Bool = false
    ) {
        precondition((certificateFile == nil) == (keyFile == nil), "a client certificate needs its key, and a key its certificate")
        self.trustedCAFile = trustedCAFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.skipServerVerification = skipServerVerification
    }
}
