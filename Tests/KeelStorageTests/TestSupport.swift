import Foundation
import XCTest

@testable import KeelStorage

/// A fresh directory under the system temp dir, removed when the test ends.
func makeTemporaryDirectory(_ test: XCTestCase, _ name: String = #function) -> String {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("keel-storage-tests-\(getpid())")
    let directory = base.appendingPathComponent("\(name.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    test.addTeardownBlock {
        try? FileManager.default.removeItem(at: directory)
        // Leave no empty per-process parent behind either.
        if (try? FileManager.default.contentsOfDirectory(atPath: base.path))?.isEmpty == true {
            try? FileManager.default.removeItem(at: base)
        }
    }
    return directory.path
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// Asserts that `body` throws a ``StorageError`` with `code`, and returns it for further checks.
@discardableResult
func assertStorageError<T>(
    _ code: StorageError.Code, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T
) -> StorageError? {
    do {
        _ = try body()
        XCTFail("expected a \(code) error, got success", file: file, line: line)
    } catch let error as StorageError {
        XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
        return error
    } catch {
        XCTFail("expected StorageError, got \(error)", file: file, line: line)
    }
    return nil
}
