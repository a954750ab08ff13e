import Foundation

/// Certificates made for one test with the `openssl` command line, in the test's own folder: a CA
/// with a server, a peer and a client certificate, and a second, unrelated "stranger" CA with a
/// client and a peer certificate of its own. Server and peer certificates carry the IP SAN
/// 127.0.0.1 (and `localhost`), which is what clients and peers check on loopback.
struct TestCertificates {
    /// A certificate and its private key, PEM files.
    struct Pair {
        var certificate: String
        var key: String
    }

    /// How long one openssl command may take.
    static let commandTimeLimitSeconds = 30.0

    let directory: URL
    var caFile: String { path("ca.pem") }
    var strangerCAFile: String { path("stranger-ca.pem") }
    var server: Pair { pair("server") }
    var peer: Pair { pair("peer") }
    var client: Pair { pair("client") }
    var strangerClient: Pair { pair("stranger-client") }
    var strangerPeer: Pair { pair("stranger-peer") }

    /// Makes every file in `directory` (which must exist).
    static func make(in directory: URL) throws -> TestCertificates {
        let certificates = TestCertificates(directory: directory)
        try certificates.makeCA("ca")
        try certificates.makeCA("stranger-ca")
        try certificates.sign("server", by: "ca", usage: .member)
        try certificates.sign("peer", by: "ca", usage: .member)
        try certificates.sign("client", by: "ca", usage: .client)
        try certificates.sign("stranger-client", by: "stranger-ca", usage: .client)
        try certificates.sign("stranger-peer", by: "stranger-ca", usage: .member)
        return certificates
    }

    private enum Usage {
        /// Serves and dials: a member's certificate is presented both ways, as etcd's are.
        case member
        case client
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    private func pair(_ name: String) -> Pair { Pair(certificate: path("\(name).pem"), key: path("\(name).key")) }

    private func makeCA(_ name: String) throws {
        let config = path("\(name).cnf")
        try """
            [req]
            distinguished_name = dn
            x509_extensions = ca
            prompt = no
            [dn]
            CN = keel test \(name)
            [ca]
            basicConstraints = critical, CA:TRUE
            keyUsage = critical, keyCertSign, cRLSign
            subjectKeyIdentifier = hash
            """.write(toFile: config, atomically: true, encoding: .utf8)
        try openssl([
            "req", "-x509", "-new", "-config", config, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", path("\(name).key"), "-out", path("\(name).pem"), "-days", "2",
        ])
    }

    private func sign(_ name: String, by ca: String, usage: Usage) throws {
        let extensions = path("\(name).ext")
        let specific =
            switch usage {
            case .member: "subjectAltName = IP:127.0.0.1, DNS:localhost\nextendedKeyUsage = serverAuth, clientAuth\n"
            case .client: "extendedKeyUsage = clientAuth\n"
            }
        try ("basicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\n" + specific)
            .write(toFile: extensions, atomically: true, encoding: .utf8)
        try openssl([
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", path("\(name).key"), "-out", path("\(name).csr"), "-subj", "/CN=keel test \(name)",
        ])
        try openssl([
            "x509", "-req", "-in", path("\(name).csr"), "-CA", path("\(ca).pem"), "-CAkey", path("\(ca).key"),
            "-set_serial", String(UInt32.random(in: 1...UInt32.max)), "-out", path("\(name).pem"), "-days", "2",
            "-extfile", extensions,
        ])
    }

    private func openssl(_ arguments: [String]) throws {
        let binary = try ClusterBinaries.findOnPath("openssl", hint: "install openssl (scripts/install-deps --tests does)")
        let result = try ClusterCommand.run(binary, arguments, timeLimitSeconds: Self.commandTimeLimitSeconds, scratch: directory)
        guard result.succeeded else {
            throw ClusterTestError("openssl \(arguments.joined(separator: " ")) failed:\n\(result.transcript)")
        }
    }
}
