import Foundation
import XCTest

@testable import JepsenHarness

#if canImport(Glibc)
    import Glibc
#endif

/// Shared helpers for the harness tests, which need root (namespaces, iptables) and run real processes.
enum HarnessTestSupport {
    /// Fails the test (never skips it) when not root: CI runs as root, and these tests are the proof.
    static func requireRoot(file: StaticString = #filePath, line: UInt = #line) -> Bool {
        if geteuid() == 0 { return true }
        XCTFail("the harness tests need root (network namespaces, iptables)", file: file, line: line)
        return false
    }

    /// A fresh folder under the system's temporary directory.
    static func temporaryDirectory(_ name: String) -> String {
        let path = NSTemporaryDirectory() + "keel-jepsen-tests/\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Writes an executable script and returns its path.
    static func script(_ text: String, in directory: String, name: String) -> String {
        let path = directory + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o755])
        return path
    }

    /// A stand-in server (it ignores etcd's flags): answers "pong" to every TCP connection on port 2379.
    static let pongServer = """
        #!/usr/bin/env python3
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", 2379))
        s.listen(16)
        while True:
            c, _ = s.accept()
            c.sendall(b"pong\\n")
            c.close()
        """

    /// A stand-in server that prints, every 50 ms, its (possibly faked) monotonic and wall clocks
    /// beside the real boot-time clock read from /proc/uptime, which libfaketime does not touch.
    static let clockPrinter = """
        #!/usr/bin/env python3
        import time, sys
        while True:
            real = float(open("/proc/uptime").read().split()[0])
            print("%.6f %.6f %.3f" % (time.monotonic(), time.time(), real), flush=True)
            time.sleep(0.05)
        """

    /// Connects to `host:2379` and returns what the server sends within `timeout`, or nil.
    static func ask(_ host: String, timeout: Double = 1.0) -> String? {
        let code = """
            import socket, sys
            try:
                c = socket.create_connection((sys.argv[1], 2379), timeout=float(sys.argv[2]))
                c.settimeout(float(sys.argv[2]))
                print(c.recv(16).decode().strip())
            except Exception as e:
                print("ERROR " + type(e).__name__)
            """
        guard let output = try? Subprocess.check(["python3", "-c", code, host, String(timeout)]) else { return nil }
        return output.hasPrefix("ERROR") ? nil : output
    }

    /// Sends `count` UDP datagrams from node `from` to node `to` (both in their namespaces) and
    /// returns how many arrived.
    static func udpDelivered(from: ServerNode, to: ServerNode, count: Int = 20, directory: String) throws -> Int {
        let receiver = """
            import socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((sys.argv[1], 7001))
            s.settimeout(1.0)
            n = 0
            print("ready", flush=True)
            try:
                while True:
                    s.recv(64)
                    n += 1
            except Exception:
                pass
            print(n, flush=True)
            """
        let log = directory + "/udp-\(from.name)-\(to.name)-\(UInt32.random(in: 0...UInt32.max)).log"
        let pid = try Subprocess.start(
            ["ip", "netns", "exec", to.namespace, "python3", "-c", receiver, to.address], logPath: log)
        // A loaded machine can take seconds to start python in a namespace; a receiver that is not
        // listening yet would count 0 and pass for a partition, so not being ready is an error.
        let ready = ContinuousClock.now.advanced(by: .seconds(30))
        func listening() -> Bool { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("ready") }
        while ContinuousClock.now < ready, !listening() { usleep(20_000) }
        guard listening() else { throw HarnessError(.setupFailed, "the UDP receiver in \(to.namespace) did not start within 30 s") }
        let sender = """
            import socket, sys, time
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for i in range(int(sys.argv[2])):
                s.sendto(b"x", (sys.argv[1], 7001))
                time.sleep(0.005)
            """
        try from.inNamespace(["python3", "-c", sender, to.address, String(count)])
        Subprocess.waitForExit(pid)
        let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
        return Int(lines.last ?? "") ?? -1
    }

    /// The built product `name` next to the test bundle.
    static func builtProduct(_ name: String) -> String? {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL.deletingLastPathComponent(),
            Bundle.main.bundleURL,
        ] + Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        for directory in candidates {
            let path = directory.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Everything the harness may leave behind, listed.
    static func leftovers() -> [String] {
        TestNetwork.existingNamespaces() + TestNetwork.existingLinks()
    }
}
