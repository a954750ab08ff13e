// `crash`: SIGKILL plus the loss of every write the server had not fsynced, as after a power cut
// on a machine whose disk keeps only what was synced. A plain SIGKILL loses nothing (the kernel's
// page cache keeps every completed write), so it cannot show a server acknowledging before its
// fsync; this can. Servers run under jepsen/preload/lose-unsynced.so, which journals the old bytes
// of every change to a file under the member's data directory until that file is synced, and puts
// them back when the next process starts under it, before the server itself runs.
import Foundation

/// Crashes one member, a minority, a majority, all, or the leader, losing their unsynced writes.
public struct CrashNemesis: Nemesis {
    /// `crash`.
    public let name = "crash"
    private let kill = KillNemesis()

    /// A crash nemesis for servers started with `launch`; refuses a server the library cannot reach.
    public init(launch: ServerLaunch) throws(HarnessError) {
        guard launch.loseUnsyncedLibrary != nil else {
            throw HarnessError(.cannotRun, "the crash nemesis needs the servers started under lose-unsynced.so")
        }
        if ClockNemesis.isGoProgram(launch.binary) {
            throw HarnessError(
                .unsupported,
                "nemesis 'crash' cannot reach \(launch.binary): it is a Go program, and Go writes and syncs files "
                    + "with system calls of its own, never through libc, so the preload library cannot see them")
        }
    }

    /// Kills the chosen members; their unsynced writes are undone when they start again.
    public func inject(into cluster: TestCluster, random: inout SplitMix64) async throws -> String {
        let killed = try await kill.inject(into: cluster, random: &random)
        return killed.replacingOccurrences(of: "killed", with: "crashed (unsynced writes lost)")
    }

    /// Restarts every member that is down; the library restores its files to their last sync first.
    public func heal(_ cluster: TestCluster) async throws -> String {
        try await kill.heal(cluster)
    }
}

/// Builds lose-unsynced.so from its C source with the system's C compiler.
public enum LoseUnsyncedLibrary {
    /// The source, found next to the harness's own sources (jepsen/preload/).
    public static var sourcePath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()  // Nemesis
            .deletingLastPathComponent()  // JepsenHarness
            .deletingLastPathComponent()  // Sources
            .deletingLastPathComponent()  // jepsen
            .appendingPathComponent("preload/lose-unsynced.c").path
    }

    /// Compiles the library into `directory` and returns its path.
    public static func build(into directory: String) throws(HarnessError) -> String {
        let source = sourcePath
        guard FileManager.default.fileExists(atPath: source) else {
            throw HarnessError(
                .cannotRun, "nemesis 'crash' needs \(source) (jepsen/preload/lose-unsynced.c of the source tree jepsen was built from)")
        }
        let library = directory + "/lose-unsynced.so"
        do {
            try Subprocess.check(["cc", "-shared", "-fPIC", "-O2", "-o", library, source, "-ldl", "-lpthread"])
        } catch {
            throw HarnessError(.cannotRun, "nemesis 'crash' cannot build its preload library (apt-get install gcc): \(error)")
        }
        return library
    }
}
