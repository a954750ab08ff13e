import CRocksDB

/// Runs a RocksDB C call that reports failure through `char** errptr` and turns the error string
/// into a thrown ``StorageError``, freeing the string exactly once.
func rocksCall<T>(_ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> T) throws -> T {
    var errorPointer: UnsafeMutablePointer<CChar>? = nil
    let result = body(&errorPointer)
    if let errorPointer {
        let message = String(cString: errorPointer)
        rocksdb_free(errorPointer)
        throw StorageError(rocksCode(message), "rocksdb: \(message)")
    }
    return result
}

/// Maps RocksDB's `Status::ToString()` prefix onto a code.
private func rocksCode(_ message: String) -> StorageError.Code {
    if message.hasPrefix("Corruption") { return .corruption }
    if message.hasPrefix("IO error") { return .io }
    if message.hasPrefix("Invalid argument") { return .invalidArgument }
    return .rocksdb
}

/// Passes bytes to C as `const char*`; RocksDB copies or only reads them during the call.
@inline(__always)
func withCBytes<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>?, Int) throws -> R) rethrows -> R {
    try bytes.withUnsafeBufferPointer { buffer in
        try body(UnsafeRawPointer(buffer.baseAddress)?.assumingMemoryBound(to: CChar.self), buffer.count)
    }
}

/// Copies `length` bytes that RocksDB lent us into an array.
@inline(__always)
func copyBytes(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> [UInt8] {
    guard let pointer, length > 0 else { return [] }
    return Array(UnsafeRawBufferPointer(start: pointer, count: length).bindMemory(to: UInt8.self))
}
