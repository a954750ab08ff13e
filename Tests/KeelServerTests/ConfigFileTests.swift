import Foundation
import KeelServer
import XCTest

/// The YAML config file: etcd's key names, flags override it, errors name the key and the file.
final class ConfigFileTests: XCTestCase {
    private let path = "/etc/kvd.yml"

    func testEtcdKeysAreReadAndFlagsOverrideThem() throws {
        let yaml = """
            name: infra2
            data-dir: /var/lib/kvd/infra2
            listen-client-urls: http://10.0.0.2:2379
            advertise-client-urls: http://10.0.0.2:2379
            listen-peer-urls: http://10.0.0.2:2380
            initial-advertise-peer-urls: http://10.0.0.2:2380
            initial-cluster: infra1=http://10.0.0.1:2380,infra2=http://10.0.0.2:2380,infra3=http://10.0.0.3:2380
            initial-cluster-state: new
            initial-cluster-token: keel-prod
            heartbeat-interval: 200
            election-timeout: 2000
            listen-metrics-urls:
              - http://10.0.0.2:2381
              - http://127.0.0.1:2381
            wal-dir:
            log-level: debug
            """
        let file = try ConfigFile.parse(yaml: yaml, path: path)
        let fromFile = try ServerConfig.resolve(file)
        XCTAssertEqual(fromFile.name, "infra2")
        XCTAssertEqual(fromFile.dataDirectory, "/var/lib/kvd/infra2")
        XCTAssertEqual(fromFile.initialCluster.count, 3)
        XCTAssertEqual(fromFile.heartbeatIntervalMilliseconds, 200)
        XCTAssertEqual(fromFile.listenMetricsURLs, [ServerURL(host: "10.0.0.2", port: 2381), ServerURL(host: "127.0.0.1", port: 2381)])
        XCTAssertEqual(fromFile.initialClusterToken, "keel-prod")
        XCTAssertEqual(fromFile.logLevel, .debug)

        let merged = try ServerConfig.resolve(file.overridden(by: ConfigValues(flags: [.electionTimeout: "3000", .logLevel: "error"])))
        XCTAssertEqual(merged.electionTimeoutMilliseconds, 3000)
        XCTAssertEqual(merged.logLevel, .error)
        XCTAssertEqual(merged.heartbeatIntervalMilliseconds, 200, "a setting no flag gives keeps the file's value")
    }

    func testErrorsNameTheKeyAndTheFile() throws {
        let file = try ConfigFile.parse(yaml: "heartbeat-interval: soon\n", path: path)
        XCTAssertThrowsError(try ServerConfig.resolve(file)) { error in
            XCTAssertEqual((error as? ConfigError)?.message, "config key 'heartbeat-interval' in /etc/kvd.yml: 'soon' is not a whole number")
        }
        let overridden = file.overridden(by: ConfigValues(flags: [.heartbeatInterval: "x"]))
        XCTAssertThrowsError(try ServerConfig.resolve(overridden)) { error in
            XCTAssertEqual((error as? ConfigError)?.message, "--heartbeat-interval: 'x' is not a whole number")
        }
    }

    func testUnknownKeyIsRefused() {
        XCTAssertThrowsError(try ConfigFile.parse(yaml: "name: a\nheartbeat-intreval: 100\n", path: path)) { error in
            let message = (error as? ConfigError)?.message ?? ""
            XCTAssertTrue(message.contains("config file /etc/kvd.yml: unknown key 'heartbeat-intreval'"), message)
            XCTAssertTrue(message.contains("heartbeat-interval"), "lists the known keys: \(message)")
        }
    }

    func testEtcdKeysKvdDoesNotImplementAreNamedInOneWarningNotRefused() throws {
        let yaml = """
            name: infra1
            enable-v2: true
            max-wals: 5
            cors: "*"
            client-transport-security:
              auto-tls: false
              client-cert-auth: false
            heartbeat-interval: 100
            """
        let values = try ConfigFile.parse(yaml: yaml, path: path)
        let config = try ServerConfig.resolve(values)
        XCTAssertEqual(config.name, "infra1")
        XCTAssertEqual(values.ignored.map(\.name), ["enable-v2", "max-wals", "cors", "auto-tls"])
        let warning = try XCTUnwrap(IgnoredSetting.warning(for: values.ignored))
        XCTAssertEqual(
            warning,
            "ignoring 4 settings (etcd settings kvd does not implement: 'enable-v2' in /etc/kvd.yml, 'max-wals' in /etc/kvd.yml, "
                + "'cors' in /etc/kvd.yml, 'auto-tls' in /etc/kvd.yml)")
        XCTAssertNil(IgnoredSetting.warning(for: []), "no warning when every key is kvd's")
    }

    func testMalformedFilesAreRefused() {
        XCTAssertThrowsError(try ConfigFile.parse(yaml: "- a\n- b\n", path: path)) { error in
            XCTAssertTrue((error as? ConfigError)?.message.contains("expected a mapping") ?? false, "\(error)")
        }
        XCTAssertThrowsError(try ConfigFile.parse(yaml: "name: [a\n", path: path)) { error in
            XCTAssertTrue((error as? ConfigError)?.message.contains("not valid YAML") ?? false, "\(error)")
        }
        XCTAssertThrowsError(try ConfigFile.parse(yaml: "name:\n  first: a\n", path: path)) { error in
            XCTAssertTrue((error as? ConfigError)?.message.contains("config key 'name' in /etc/kvd.yml: expected a value") ?? false, "\(error)")
        }
    }

    func testLoadReadsAFileAndNamesAMissingOne() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvd-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("kvd.yml")
        try "name: from-file\n".write(to: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(try ServerConfig.resolve(ConfigFile.load(path: file.path)).name, "from-file")
        let missing = directory.appendingPathComponent("missing.yml").path
        XCTAssertThrowsError(try ConfigFile.load(path: missing)) { error in
            XCTAssertTrue((error as? ConfigError)?.message.hasPrefix("--config-file: cannot read \(missing)") ?? false, "\(error)")
        }
    }
}
