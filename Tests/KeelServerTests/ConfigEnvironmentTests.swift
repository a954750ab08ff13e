import Foundation
import KeelServer
import XCTest

/// etcd's `ETCD_*` environment variables: `--my-flag` is `ETCD_MY_FLAG`, flags win over them, they
/// win over the config file, and one for a setting kvd does not implement is named in the warning.
final class ConfigEnvironmentTests: XCTestCase {
    func testVariablesAreFlagNamesUpperCasedWithUnderscores() throws {
        XCTAssertEqual(EnvironmentConfig.variable(for: .listenClientURLs), "ETCD_LISTEN_CLIENT_URLS")
        let values = EnvironmentConfig.read([
            "ETCD_NAME": "infra3", "ETCD_DATA_DIR": "/var/lib/infra3",
            "ETCD_LISTEN_CLIENT_URLS": "http://127.0.0.1:12379", "ETCD_HEARTBEAT_INTERVAL": "50",
            "ETCD_ELECTION_TIMEOUT": "500", "PATH": "/usr/bin", "ETCDCTL_API": "3",
        ])
        let config = try ServerConfig.resolve(values)
        XCTAssertEqual(config.name, "infra3")
        XCTAssertEqual(config.dataDirectory, "/var/lib/infra3")
        XCTAssertEqual(config.listenClientURLs, [ServerURL(host: "127.0.0.1", port: 12379)])
        XCTAssertEqual(config.heartbeatIntervalMilliseconds, 50)
        XCTAssertEqual(config.electionTimeoutMilliseconds, 500)
        XCTAssertEqual(values.ignored, [], "ETCDCTL_API and PATH are not etcd's server settings")
    }

    func testFlagsWinOverEnvironmentWhichWinsOverTheFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kvd-env-\(UUID().uuidString).yml")
        try "name: from-file\nsnapshot-count: 7\nheartbeat-interval: 20\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let values = try ConfigValues.gather(
            flags: [.name: "from-flag"], configFilePath: nil,
            environment: ["ETCD_CONFIG_FILE": file.path, "ETCD_NAME": "from-env", "ETCD_SNAPSHOT_COUNT": "9"])
        let config = try ServerConfig.resolve(values)
        XCTAssertEqual(config.name, "from-flag")
        XCTAssertEqual(config.snapshotCount, 9, "the environment over the file")
        XCTAssertEqual(config.heartbeatIntervalMilliseconds, 20, "ETCD_CONFIG_FILE names the file when --config-file is absent")
    }

    func testErrorsNameTheVariable() {
        XCTAssertThrowsError(try ServerConfig.resolve(EnvironmentConfig.read(["ETCD_SNAPSHOT_COUNT": "many"]))) { error in
            XCTAssertEqual((error as? ConfigError)?.message, "ETCD_SNAPSHOT_COUNT: 'many' is not a whole number")
        }
    }

    func testVariablesForSettingsKvdDoesNotImplementShareTheFilesWarning() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kvd-env-\(UUID().uuidString).yml")
        try "enable-v2: true\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let values = try ConfigValues.gather(
            flags: [:], configFilePath: file.path, environment: ["ETCD_MAX_SNAPSHOTS": "3", "ETCD_NO_SUCH_THING": "1"])
        XCTAssertNoThrow(try ServerConfig.resolve(values))
        XCTAssertEqual(
            IgnoredSetting.warning(for: values.ignored),
            "ignoring 3 settings (etcd settings kvd does not implement: 'enable-v2' in \(file.path), ETCD_MAX_SNAPSHOTS; "
                + "not etcd 3.4 settings either: ETCD_NO_SUCH_THING)")
    }
}
