import Foundation
import XCTest

@testable import JepsenHarness

/// lose-unsynced.so on its own (jepsen/preload/test.sh): after a SIGKILL, files hold exactly what
/// was synced (appends, overwrites, truncation, writev, renames, several threads), and a RocksDB
/// database keeps every synced put and loses the unsynced ones (which a plain SIGKILL keeps).
final class LoseUnsyncedLibraryTests: XCTestCase {
    func testThePreloadLibraryLosesExactlyTheUnsyncedWrites() throws {
        let script = URL(fileURLWithPath: LoseUnsyncedLibrary.sourcePath).deletingLastPathComponent()
            .appendingPathComponent("test.sh").path
        let work = HarnessTestSupport.temporaryDirectory("lose-unsynced")
        let (status, output) = try Subprocess.run(["bash", script, work])
        print(output.split(separator: "\n").filter { $0.hasPrefix("PASS") || $0.hasPrefix("FAIL") || $0.hasPrefix("overhead") }.joined(separator: "\n"))
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("ALL PASSED"), output)
        XCTAssertFalse(output.contains("FAIL:"), output)
    }
}
