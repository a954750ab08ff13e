import Foundation
import KeelServer
import XCTest

/// etcd's TLS flags, keys and variables: which combinations start, which are refused naming the
/// flag, and certificate files that cannot be used.
final class TLSConfigTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("keel-tls-config-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: directory)
        super.tearDown()
    }

    private let httpsCluster: [ConfigSetting: String] = [
        .listenClientURLs: "https://127.0.0.1:2379", .listenPeerURLs: "https://127.0.0.1:2380",
    ]

    private func refusal(_ flags: [ConfigSetting: String], file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            let config = try ServerConfig.resolve(ConfigValues(flags: flags))
            XCTFail("accepted \(flags) as \(config)", file: file, line: line)
            return ""
        } catch {
            return error.message
        }
    }

    private func assertMessage(_ message: String, mentions parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        for part in parts {
            XCTAssertTrue(message.contains(part), "'\(message)' does not mention '\(part)'", file: file, line: line)
        }
    }

    func testHTTPSClientURLWithoutCertificateIsRefusedNamingTheFlags() {
        assertMessage(
            refusal([.listenClientURLs: "https://127.0.0.1:2379"]),
            mentions: ["--listen-client-urls", "https://127.0.0.1:2379", "--cert-file", "--key-file"])
    }

    func testHTTPSPeerURLsWithoutPeerCertificateAreRefusedNamingTheFlag() {
        let certs: [ConfigSetting: String] = [.certFile: "c.pem", .keyFile: "k.pem"]
        assertMessage(
            refusal(certs.merging([.listenPeerURLs: "https://127.0.0.1:2380"]) { $1 }),
            mentions: ["--listen-peer-urls", "--peer-cert-file", "--peer-key-file"])
        // Dialling an https member needs the certificates as much as listening on https does.
        assertMessage(
            refusal([.name: "a", .initialCluster: "a=http://127.0.0.1:2380,b=https://127.0.0.1:3380"]),
            mentions: ["--initial-cluster", "https://127.0.0.1:3380", "--peer-cert-file"])
    }

    func testHalfACertificatePairOrClientCertAuthWithoutCAIsRefused() {
        assertMessage(refusal([.certFile: "c.pem"]), mentions: ["--cert-file is given without --key-file"])
        assertMessage(refusal([.peerKeyFile: "k.pem"]), mentions: ["--peer-key-file is given without --peer-cert-file"])
        assertMessage(
            refusal([.certFile: "c.pem", .keyFile: "k.pem", .clientCertAuth: "true"]),
            mentions: ["--client-cert-auth needs --trusted-ca-file"])
        assertMessage(
            refusal([.peerCertFile: "c.pem", .peerKeyFile: "k.pem", .peerClientCertAuth: "true"]),
            mentions: ["--peer-client-cert-auth needs --peer-trusted-ca-file"])
        assertMessage(refusal([.clientCertAuth: "yes"]), mentions: ["--client-cert-auth", "'yes'", "neither true nor false"])
    }

    func testHTTPSURLsResolveWithCertificatesAndChangeTheMemberID() throws {
        let flags = httpsCluster.merging([
            .certFile: "c.pem", .keyFile: "k.pem", .trustedCAFile: "ca.pem", .clientCertAuth: "true",
            .peerCertFile: "p.pem", .peerKeyFile: "pk.pem", .peerTrustedCAFile: "ca.pem", .peerClientCertAuth: "1",
        ]) { $1 }
        let config = try ServerConfig.resolve(ConfigValues(flags: flags))
        XCTAssertEqual(config.listenClientURLs, [ServerURL(host: "127.0.0.1", port: 2379, usesTLS: true)])
        XCTAssertEqual(config.initialCluster[0].peerURLs.map(\.description), ["https://127.0.0.1:2380"])
        XCTAssertEqual(config.clientTLS, TLSFiles(certFile: "c.pem", keyFile: "k.pem", trustedCAFile: "ca.pem", clientCertAuth: true))
        XCTAssertEqual(config.peerTLS, TLSFiles(certFile: "p.pem", keyFile: "pk.pem", trustedCAFile: "ca.pem", clientCertAuth: true))
        XCTAssertEqual(config.tlsWarnings, [])
        let plain = try ServerConfig.resolve(ConfigValues())
        XCTAssertNotEqual(config.memberInfos[0].id, plain.memberInfos[0].id, "etcd derives the id from the peer URL, scheme included")
    }

    func testCertificatesBesideHTTPURLsAreIgnoredWithEtcdsWarning() throws {
        let config = try ServerConfig.resolve(ConfigValues(flags: [
            .certFile: "c.pem", .keyFile: "k.pem", .trustedCAFile: "ca.pem", .clientCertAuth: "true",
            .peerCertFile: "p.pem", .peerKeyFile: "pk.pem",
        ]))
        XCTAssertEqual(config.tlsWarnings.count, 3, "\(config.tlsWarnings)")
        assertMessage(config.tlsWarnings.joined(separator: "\n"), mentions: [
            "http://127.0.0.1:2379 use http: --cert-file and --key-file are ignored", "--client-cert-auth is ignored",
            "http://127.0.0.1:2380 uses http: --peer-cert-file",
        ])
        let contexts = try ServerTLSContexts(config: config)
        XCTAssertNil(contexts.client, "no file is read for http URLs")
        XCTAssertNil(contexts.peer)
    }

    func testConfigFileSectionsAndEnvironmentVariablesSetTheSameSettings() throws {
        let yaml = """
            listen-client-urls: https://127.0.0.1:2379
            client-transport-security:
              cert-file: /etc/etcd/server.crt
              key-file: /etc/etcd/server.key
              trusted-ca-file: /etc/etcd/ca.crt
              client-cert-auth: true
              auto-tls: false
            peer-transport-security:
              cert-file: /etc/etcd/peer.crt
              key-file: /etc/etcd/peer.key
              client-cert-auth: false
            """
        let values = try ConfigFile.parse(yaml: yaml, path: "/etc/kvd.yml")
        XCTAssertEqual(values.ignored.map(\.name), ["auto-tls"])
        let config = try ServerConfig.resolve(values)
        XCTAssertEqual(
            config.clientTLS,
            TLSFiles(certFile: "/etc/etcd/server.crt", keyFile: "/etc/etcd/server.key", trustedCAFile: "/etc/etcd/ca.crt", clientCertAuth: true))
        XCTAssertEqual(config.peerTLS, TLSFiles(certFile: "/etc/etcd/peer.crt", keyFile: "/etc/etcd/peer.key"))

        let fromEnvironment = try ServerConfig.resolve(EnvironmentConfig.read([
            "ETCD_LISTEN_CLIENT_URLS": "https://127.0.0.1:2379", "ETCD_CERT_FILE": "c.pem", "ETCD_KEY_FILE": "k.pem",
            "ETCD_TRUSTED_CA_FILE": "ca.pem", "ETCD_CLIENT_CERT_AUTH": "true", "ETCD_PEER_CLIENT_CERT_AUTH": "false",
        ]))
        XCTAssertEqual(fromEnvironment.clientTLS, TLSFiles(certFile: "c.pem", keyFile: "k.pem", trustedCAFile: "ca.pem", clientCertAuth: true))
        XCTAssertFalse(fromEnvironment.peerTLS.clientCertAuth)

        XCTAssertThrowsError(try ConfigFile.parse(yaml: "client-transport-security: yes\n", path: "/etc/kvd.yml")) { error in
            assertMessage((error as? ConfigError)?.message ?? "", mentions: ["client-transport-security", "expected a mapping"])
        }
    }

    // MARK: the files

    private func resolveHTTPS(_ extra: [ConfigSetting: String]) throws -> ServerConfig {
        try ServerConfig.resolve(ConfigValues(flags: httpsCluster.merging(extra) { $1 }))
    }

    private func contextRefusal(_ config: ServerConfig, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try ServerTLSContexts(config: config)
            XCTFail("the certificate files were accepted", file: file, line: line)
            return ""
        } catch {
            return error.message
        }
    }

    func testUsableCertificatesGiveBothContexts() throws {
        let certs = try TestCertificates.make(in: directory)
        let config = try resolveHTTPS([
            .certFile: certs.server.certificate, .keyFile: certs.server.key, .trustedCAFile: certs.caFile, .clientCertAuth: "true",
            .peerCertFile: certs.peer.certificate, .peerKeyFile: certs.peer.key, .peerTrustedCAFile: certs.caFile,
        ])
        let contexts = try ServerTLSContexts(config: config)
        XCTAssertNotNil(contexts.client)
        XCTAssertNotNil(contexts.peer?.server)
    }

    func testUnreadableMalformedOrMismatchedFilesNameTheFlag() throws {
        let certs = try TestCertificates.make(in: directory)
        let garbage = directory.appendingPathComponent("garbage.pem").path
        try "not a certificate\n".write(toFile: garbage, atomically: true, encoding: .utf8)
        let missing = directory.appendingPathComponent("missing.pem").path
        let peers: [ConfigSetting: String] = [.peerCertFile: certs.peer.certificate, .peerKeyFile: certs.peer.key]

        assertMessage(
            contextRefusal(try resolveHTTPS(peers.merging([.certFile: missing, .keyFile: certs.server.key]) { $1 })),
            mentions: ["--cert-file", "cannot read", missing])
        assertMessage(
            contextRefusal(try resolveHTTPS(peers.merging([.certFile: garbage, .keyFile: certs.server.key]) { $1 })),
            mentions: ["--cert-file", garbage, "PEM certificate"])
        assertMessage(
            contextRefusal(try resolveHTTPS(peers.merging([.certFile: certs.server.certificate, .keyFile: garbage]) { $1 })),
            mentions: ["--key-file", garbage, "PEM private key"])
        assertMessage(
            contextRefusal(try resolveHTTPS(peers.merging([
                .certFile: certs.server.certificate, .keyFile: certs.server.key, .trustedCAFile: garbage, .clientCertAuth: "true",
            ]) { $1 })),
            mentions: ["--trusted-ca-file", garbage])
        // The client's key with the server's certificate: each file is fine, the pair is not.
        assertMessage(
            contextRefusal(try resolveHTTPS(peers.merging([.certFile: certs.server.certificate, .keyFile: certs.client.key]) { $1 })),
            mentions: ["--key-file and --cert-file", "does the key belong to the certificate"])
        assertMessage(
            contextRefusal(try resolveHTTPS([
                .certFile: certs.server.certificate, .keyFile: certs.server.key,
                .peerCertFile: certs.peer.certificate, .peerKeyFile: missing,
            ])),
            mentions: ["--peer-key-file", "cannot read"])
    }
}
