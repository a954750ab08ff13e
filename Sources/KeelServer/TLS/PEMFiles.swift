import Foundation
import NIOSSL

/// Reads the PEM files named by the TLS flags, with errors that name the flag and the file, so
/// that a wrong path or a swapped key and certificate stop kvd at start rather than at the first
/// handshake.
enum PEMFiles {
    /// A PEM file is a few kilobytes; more is not a certificate file.
    static let fileBytesMax = 1 << 20

    /// The certificates of a `--cert-file` or `--trusted-ca-file`: at least one.
    static func certificates(path: String, what: String) throws(ConfigError) -> [NIOSSLCertificate] {
        let bytes = try read(path: path, what: what)
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMBytes(bytes)
        } catch {
            throw ConfigError("\(what): \(path) is not a PEM certificate file (\(error))")
        }
        guard !certificates.isEmpty else {
            throw ConfigError("\(what): \(path) holds no PEM certificate")
        }
        return certificates
    }

    /// The private key of a `--key-file`.
    static func privateKey(path: String, what: String) throws(ConfigError) -> NIOSSLPrivateKey {
        let bytes = try read(path: path, what: what)
        do {
            return try NIOSSLPrivateKey(bytes: bytes, format: .pem)
        } catch {
            throw ConfigError("\(what): \(path) is not a PEM private key (unencrypted) (\(error))")
        }
    }

    private static func read(path: String, what: String) throws(ConfigError) -> [UInt8] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigError("\(what): cannot read \(path): \(error.localizedDescription)")
        }
        guard data.count <= fileBytesMax else {
            throw ConfigError("\(what): \(path) is \(data.count) bytes, more than the limit of \(fileBytesMax) for a PEM file")
        }
        return Array(data)
    }
}
