// One server process of the test cluster, in its own network namespace, started with etcd's flags.
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One member: where it lives, how it is started, and its process while it runs.
public final class ServerNode: Sendable {
    /// 0-based position in the cluster.
    public let index: Int
    /// The member name, `n1`, `n2`, …
    public let name: String
    /// Its address on the test network.
    public let address: String
    /// Its network namespace.
    public let namespace: String
    /// Its folder under the test's output folder: data, log and clock file.
    public let directory: String
    /// The server's combined standard output and error (every start appends to it).
    public let logPath: String
    /// The libfaketime control file, when the clock nemesis is on.
    public let clockFilePath: String?
    private let launch: ServerLaunch
    private let state = Mutex(ProcessState())

    /// How long a server may take to exit after SIGTERM at the end of a test before SIGKILL.
    public static let stopGrace: Duration = .seconds(3)
    /// How long to wait for a SIGKILLed process to be reaped (a process in uninterruptible sleep
    /// may take longer; it is then left for the namespace removal).
    static let killReapWait: Duration = .seconds(10)

    /// The client port inside the namespace.
    public static let clientPort = 2379
    /// The peer port inside the namespace.
    public static let peerPort = 2380

    struct ProcessState {
        var pid: pid_t?
        var paused = false
        /// When the current process was spawned, on the harness's monotonic clock (libfaketime's
        /// reference point is shortly after it).
        var spawnedAt: ContinuousClock.Instant?
        /// Exits the harness did not cause (a crash), described for the verdict.
        var unexpectedExits: [String] = []
        /// Removed from the cluster by the `member` nemesis: its exit is expected, and it is not
        /// restarted on its data (it would refuse to start) until added back.
        var removed = false
        /// Joined the cluster after it formed (added back): every later start is `existing`.
        var joinedLater = false
    }

    init(index: Int, directory: String, launch: ServerLaunch) {
        self.index = index
        self.name = "n\(index + 1)"
        self.address = TestNetwork.address(index)
        self.namespace = TestNetwork.namespace(index)
        self.directory = directory
        self.logPath = directory + "/server.log"
        self.clockFilePath = launch.fakeClockLibrary == nil ? nil : directory + "/faketime"
        self.launch = launch
    }

    /// The client URL, as given to `--advertise-client-urls`.
    public var clientURL: String { "http://\(address):\(Self.clientPort)" }
    /// The peer URL.
    public var peerURL: String { "http://\(address):\(Self.peerPort)" }

    /// The pid of the running process, if any.
    public var pid: pid_t? { state.withLock { $0.pid } }
    /// Whether the process is stopped with SIGSTOP.
    public var isPaused: Bool { state.withLock { $0.paused } }
    /// Whether the `member` nemesis removed it from the cluster (and has not added it back).
    public var isRemoved: Bool { state.withLock { $0.removed } }
    /// When the current process was spawned, on the monotonic clock.
    var spawnedAt: ContinuousClock.Instant? { state.withLock { $0.spawnedAt } }
    /// Every time the server exited without the harness killing or stopping it.
    public var unexpectedExits: [String] { state.withLock { $0.unexpectedExits } }

    /// The command line: `ip netns exec NS [env LD_PRELOAD=…] BINARY etcd-flags… extra…`.
    func commandLine(initialCluster: String, clusterState: String = "new") -> [String] {
        var command = ["ip", "netns", "exec", namespace]
        var preload: [String] = launch.extraPreload.map { [$0] } ?? []
        var environment: [String] = []
        if let library = launch.fakeClockLibrary, let clockFilePath {
            // FAKETIME_NO_CACHE: the control file is read on every clock read, so a rate change
            // lands exactly when the nemesis computed it.
            preload.append(library)
            environment += ["FAKETIME_TIMESTAMP_FILE=\(clockFilePath)", "FAKETIME_NO_CACHE=1"]
        }
        if let library = launch.loseUnsyncedLibrary {
            preload.append(library)
            // VERBOSE: the library says in server.log what it restored at each start.
            environment += [
                "LOSE_UNSYNCED_JOURNAL=\(directory)/unsynced.journal", "LOSE_UNSYNCED_ROOT=\(directory)/data",
                "LOSE_UNSYNCED_VERBOSE=1",
            ]
        }
        if !preload.isEmpty {
            // `env` sets the variables for the server alone; `ip` and `env` themselves load nothing.
            command += ["env", "LD_PRELOAD=" + preload.joined(separator: " ")] + environment
        }
        command.append(launch.binary)
        command += [
            "--name", name,
            "--data-dir", directory + "/data",
            "--listen-client-urls", clientURL,
            "--advertise-client-urls", clientURL,
            "--listen-peer-urls", peerURL,
            "--initial-advertise-peer-urls", peerURL,
            "--initial-cluster", initialCluster,
            "--initial-cluster-state", clusterState,
            "--initial-cluster-token", "keel-jepsen",
        ]
        return command + launch.extraArguments
    }

    /// Starts the server (again, on the same data after a kill).
    func start(initialCluster: String) throws(HarnessError) {
        let clusterState = state.withLock { $0.joinedLater } ? "existing" : "new"
        if launch.loseUnsyncedLibrary != nil {
            // The preload tracks files under the data directory only if it exists when it loads.
            try? FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        }
        if let clockFilePath, !FileManager.default.fileExists(atPath: clockFilePath) {
            try? "+0 x1\n".write(toFile: clockFilePath, atomically: true, encoding: .utf8)
        }
        let command = commandLine(initialCluster: initialCluster, clusterState: clusterState)
        appendToLog("starting \(name) at \(ISO8601DateFormatter().string(from: Date())): \(command.joined(separator: " "))")
        let pid: pid_t
        do {
            pid = try Subprocess.start(command, logPath: logPath)
        } catch {
            throw HarnessError(.setupFailed, "cannot start \(name): \(error)")
        }
        state.withLock {
            $0.pid = pid
            $0.paused = false
            $0.spawnedAt = .now
        }
    }

    /// Sends SIGKILL and reaps the process; true if one was running (a process that had already
    /// exited by itself is recorded as a crash instead).
    @discardableResult
    func kill() -> Bool {
        guard isRunning(), let pid = state.withLock({ $0.pid }) else { return false }
        Glibc.kill(pid, SIGKILL)
        Glibc.kill(pid, SIGCONT)
        let deadline = ContinuousClock.now.advanced(by: Self.killReapWait)
        while Subprocess.exitStatusIfExited(pid) == nil && ContinuousClock.now < deadline { usleep(5_000) }
        state.withLock {
            $0.pid = nil
            $0.paused = false
        }
        return true
    }

    /// Sends SIGSTOP; true if a running, unpaused process was stopped.
    @discardableResult
    func pause() -> Bool {
        guard let pid = state.withLock({ $0.paused ? nil : $0.pid }) else { return false }
        Glibc.kill(pid, SIGSTOP)
        state.withLock { $0.paused = true }
        return true
    }

    /// Sends SIGCONT; true if the process was paused.
    @discardableResult
    func resume() -> Bool {
        guard let pid = state.withLock({ $0.paused ? $0.pid : nil }) else { return false }
        Glibc.kill(pid, SIGCONT)
        state.withLock { $0.paused = false }
        return true
    }

    /// Whether the process is still running (reaps it and forgets it if it exited by itself).
    public func isRunning() -> Bool {
        guard let pid = state.withLock({ $0.pid }) else { return false }
        if let status = Subprocess.exitStatusIfExited(pid) {
            let expected = state.withLock { state -> Bool in
                state.pid = nil
                state.paused = false
                if !state.removed { state.unexpectedExits.append("\(name) exited by itself with status \(status)") }
                return state.removed
            }
            if expected {
                appendToLog("\(name) exited after its removal from the cluster, with status \(status)")
                return false
            }
            appendToLog("\(name) exited by itself with status \(status) at \(ISO8601DateFormatter().string(from: Date()))")
            return false
        }
        return true
    }

    /// Marks the member removed from the cluster: it stops by itself, and that is no crash.
    func markRemoved() {
        state.withLock { $0.removed = true }
        appendToLog("removed from the cluster at \(ISO8601DateFormatter().string(from: Date()))")
    }

    /// Undoes ``markRemoved()`` when the removal did not happen.
    func clearRemoved() { state.withLock { $0.removed = false } }

    /// Starts the member again as a new member of the cluster (it was added back): on an empty
    /// data directory, with `--initial-cluster-state existing`.
    func rejoin(initialCluster: String) throws(HarnessError) {
        guard !isRunning() else { throw HarnessError(.setupFailed, "\(name) still runs; it cannot rejoin") }
        // The old data belongs to the removed member's id; the journal is the crash nemesis's record of it.
        for path in [directory + "/data", directory + "/unsynced.journal"] where FileManager.default.fileExists(atPath: path) {
            do {
                try FileManager.default.removeItem(atPath: path)
            } catch {
                throw HarnessError(.setupFailed, "cannot empty \(path) for \(name) to rejoin: \(error.localizedDescription)")
            }
        }
        state.withLock {
            $0.removed = false
            $0.joinedLater = true
        }
        try start(initialCluster: initialCluster)
    }

    /// Appends a harness line to the server's log, so the log reads as one story.
    private func appendToLog(_ line: String) {
        if !FileManager.default.fileExists(atPath: logPath) {
            FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        guard let handle = FileHandle(forWritingAtPath: logPath) else { return }
        handle.seekToEndOfFile()
        handle.write(Data("\n==== jepsen: \(line)\n".utf8))
        try? handle.close()
    }

    /// Stops the server for good at the end of a test: SIGTERM, then SIGKILL after `grace`.
    func stop(grace: Duration = ServerNode.stopGrace) {
        guard isRunning(), let pid = state.withLock({ $0.pid }) else { return }
        Glibc.kill(pid, SIGCONT)
        Glibc.kill(pid, SIGTERM)
        let deadline = ContinuousClock.now.advanced(by: grace)
        while ContinuousClock.now < deadline {
            if Subprocess.exitStatusIfExited(pid) != nil {
                state.withLock { $0.pid = nil }
                return
            }
            usleep(20_000)
        }
        _ = kill()
    }

    /// Runs a command inside this node's namespace.
    @discardableResult
    func inNamespace(_ arguments: [String]) throws(CommandError) -> String {
        try Subprocess.check(["ip", "netns", "exec", namespace] + arguments)
    }
}

/// What every node is started with.
public struct ServerLaunch: Sendable {
    /// The server executable: kvd, or any server that takes etcd's flags.
    public var binary: String
    /// Flags added after the cluster flags.
    public var extraArguments: [String]
    /// libfaketime's library, preloaded when the clock nemesis is on.
    public var fakeClockLibrary: String?
    /// lose-unsynced.so, preloaded when the crash nemesis is on.
    public var loseUnsyncedLibrary: String?
    /// A library preloaded before the harness's own (tests of the harness use one that turns
    /// fsync into a no-op, to show the crash nemesis catches a server that does not sync).
    public var extraPreload: String?

    /// Creates a launch description.
    public init(
        binary: String, extraArguments: [String] = [], fakeClockLibrary: String? = nil, loseUnsyncedLibrary: String? = nil,
        extraPreload: String? = nil
    ) {
        self.extraPreload = extraPreload
        self.binary = binary
        self.extraArguments = extraArguments
        self.fakeClockLibrary = fakeClockLibrary
        self.loseUnsyncedLibrary = loseUnsyncedLibrary
    }
}
