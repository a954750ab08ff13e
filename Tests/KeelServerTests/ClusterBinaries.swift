import Foundation
import XCTest

/// The programs the end-to-end tests run: the server (kvd), the command line client (kvctl) and
/// etcd's own etcdctl 3.4 (Debian's etcd-client, installed by scripts/install-deps).
///
/// `swift test` builds every executable product next to the test bundle, so kvd and kvctl are found
/// there. To check the harness and the tests themselves against the reference implementation, set
/// `KEEL_E2E_BINARY=etcd` (or a path to an etcd 3.4 binary): the same flags then start etcd, and
/// `KEEL_E2E_CTL=etcdctl` (or a path) replaces kvctl.
struct ClusterBinaries {
    var server: URL
    var ctl: URL
    var etcdctl: URL
    /// True when the server is etcd, not kvd (a harness check, never what CI runs).
    var serverIsEtcd: Bool

    static func locate() throws -> ClusterBinaries {
        let environment = ProcessInfo.processInfo.environment
        let etcdctl = try findOnPath("etcdctl", hint: "install etcd-client (scripts/install-deps does)")
        let serverChoice = environment["KEEL_E2E_BINARY"] ?? "kvd"
        let server: URL
        if serverChoice == "kvd" {
            server = try builtProduct("kvd")
        } else if serverChoice.contains("/") {
            server = URL(fileURLWithPath: serverChoice)
        } else {
            server = try findOnPath(serverChoice, hint: "KEEL_E2E_BINARY names a program that is not installed")
        }
        let ctlChoice = environment["KEEL_E2E_CTL"] ?? "kvctl"
        let ctl: URL
        if ctlChoice == "kvctl" {
            ctl = try builtProduct("kvctl")
        } else if ctlChoice.contains("/") {
            ctl = URL(fileURLWithPath: ctlChoice)
        } else {
            ctl = try findOnPath(ctlChoice, hint: "KEEL_E2E_CTL names a program that is not installed")
        }
        return ClusterBinaries(
            server: server, ctl: ctl, etcdctl: etcdctl,
            serverIsEtcd: server.lastPathComponent.hasPrefix("etcd")
        )
    }

    /// An executable product that `swift test` built next to the test bundle.
    static func builtProduct(_ name: String) throws -> URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL.deletingLastPathComponent(),
            Bundle.main.bundleURL,
        ] + Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        for directory in candidates {
            let url = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw ClusterTestError(
            "\(name) not found next to the test bundle (looked in \(Set(candidates.map(\.path)).sorted())); "
                + "`swift build --build-tests` builds it")
    }

    static func findOnPath(_ name: String, hint: String) throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let url = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw ClusterTestError("\(name) not found on PATH (\(path)): \(hint)")
    }
}

/// A failure of the test harness itself (a missing program, a cluster that never formed), as
/// opposed to an assertion about kvd's behaviour.
struct ClusterTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
