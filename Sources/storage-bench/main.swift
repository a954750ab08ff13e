// storage-bench: synced Raft log appends against the disk's physical limit, plus MVCC throughput.
//
//   swift run -c release storage-bench [directory]
//
// For batch sizes of 1, 16 and 256 entries of 256 bytes it measures, in the same run and on the
// same disk, (a) RaftLogStore.append of the batch with a hard state, synced, (b) one synced
// RocksDB put of as many bytes as the log writes for the batch, with no Keel code in the way: the
// floor under any log kept in RocksDB, and (c) a bare loop of write() + fdatasync() of the same
// payload bytes to an append-only file: the physical limit. Rounds alternate between the three,
// in a rotating order, so that noise from other processes hits all alike; the median round is
// reported. CPU time is the calling thread's (user + system; RocksDB's flush and compaction
// threads are not counted). Then MVCC puts (unsynced applies, as a Raft host does, and synced
// embedded puts) and point reads.
import Foundation
import Glibc
import KeelStorage
import Raft

/// Payload bytes per log entry.
let entryBytes = 256
/// Entries per synced append.
let batchSizes = [1, 16, 256]
/// Alternating rounds per measurement; the median is reported. The disk's speed drifts by tens of
/// percent within a minute on this shared machine, so ratios are taken round by round (each
/// contender against the baseline measured in the same round) and their median and range printed.
let roundsCount = 9
/// Wall time of one round.
let roundSeconds = 0.6
/// Keys written and read by the MVCC measurements.
let mvccKeysCount = 20_000
/// Value size of the MVCC measurements.
let mvccValueBytes = 256
/// Versions of the one hot key whose point reads are measured.
let hotKeyVersionsCount = 10_000

func now() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// Runs `body` (one operation of `unit` items) repeatedly for `roundSeconds`; returns items/s.
func rate(unit: Int, _ body: () throws -> Void) rethrows -> Double {
    let start = now()
    var operations = 0
    while now() - start < roundSeconds {
        try body()
        operations += 1
    }
    return Double(operations * unit) / (now() - start)
}

/// User and system CPU seconds the calling thread has used (RocksDB background threads excluded).
func cpuSeconds() -> (user: Double, system: Double) {
    var usage = rusage()
    getrusage(__rusage_who_t(1), &usage)  // RUSAGE_THREAD, which Glibc does not import
    return (Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6,
            Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6)
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("storage-bench: \(message)\n".utf8))
    exit(1)
}

let root = CommandLine.arguments.count > 1
    ? CommandLine.arguments[1]
    : FileManager.default.temporaryDirectory.appendingPathComponent("keel-storage-bench-\(getpid())").path
try? FileManager.default.removeItem(atPath: root)
try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: root) }

print("storage-bench: directory \(root), \(entryBytes)-byte entries, median of \(roundsCount) rounds of \(roundSeconds) s")
print("")
print("synced log appends (entries/s); ratios against write+fdatasync")
print("batch   keel log   rocksdb put   write+fdatasync   keel (range)        rocksdb (range)     fdatasyncs/s   CPU µs per append: keel  rocksdb  bare")

/// One way of making a batch durable, measured in alternating rounds with the others.
final class Contender {
    let name: String
    let body: (Int) throws -> Void
    var rates: [Double] = []
    var operations = 0
    var cpuTotal = 0.0

    init(_ name: String, body: @escaping (Int) throws -> Void) {
        self.name = name
        self.body = body
    }

    func round(batch: Int) throws {
        let before = cpuSeconds()
        rates.append(try rate(unit: batch) {
            operations += 1
            try body(batch)
        })
        let after = cpuSeconds()
        cpuTotal += (after.user - before.user) + (after.system - before.system)
    }

    var cpuMicrosecondsPerOperation: Double { 1e6 * cpuTotal / Double(operations) }
}

let payload = [UInt8](repeating: 0xAB, count: entryBytes)
do {
    let storage = try NodeStorage(directory: root + "/log")
    let log = storage.log
    let rocks = try RawRocksDB(path: root + "/rocksdb")
    let baselinePath = root + "/baseline"
    let descriptor = open(baselinePath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    guard descriptor >= 0 else { fail("cannot open \(baselinePath)") }
    defer { close(descriptor) }
    let term = Term(1)
    var rocksKey: UInt64 = 0
    for batch in batchSizes {
        let bytes = [UInt8](repeating: 0xAB, count: batch * entryBytes)
        // What the log writes for this batch, so RocksDB alone moves the same bytes.
        let segmentBytes = [UInt8](repeating: 0xAB, count: batch * (entryBytes + RaftLogStore.entryOverheadBytes))
        let keel = Contender("keel log") { batch in
            let first = log.lastIndex.advanced(by: 1)
            let entries = (0..<batch).map { Entry(term: term, index: first.advanced(by: Int64($0)), data: payload) }
            try log.append(entries, hardState: HardState(term: term, vote: NodeID(1), commit: first))
        }
        let rocksdb = Contender("rocksdb put") { _ in
            rocksKey += 1
            try rocks.syncedPut(key: rocksKey, value: segmentBytes)
        }
        let bare = Contender("write+fdatasync") { _ in
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard written == bytes.count, fdatasync(descriptor) == 0 else { fail("baseline write failed: errno \(errno)") }
        }
        for round in 0..<roundsCount {
            // Each round starts with a different contender, so none always follows the same one.
            let order = [keel, rocksdb, bare]
            for offset in 0..<order.count { try order[(round + offset) % order.count].round(batch: batch) }
        }
        let keelRate = median(keel.rates)
        let rocksRate = median(rocksdb.rates)
        let bareRate = median(bare.rates)
        let keelRatios = zip(keel.rates, bare.rates).map { 100 * $0 / $1 }
        let rocksRatios = zip(rocksdb.rates, bare.rates).map { 100 * $0 / $1 }
        func ratio(_ ratios: [Double]) -> String {
            String(format: "%3.0f%% (%3.0f–%3.0f%%)", median(ratios), ratios.min()!, ratios.max()!)
        }
        print(String(
            format: "%5d %10.0f %13.0f %17.0f   %@   %@ %14.0f %24.0f %8.0f %5.0f", batch, keelRate, rocksRate, bareRate,
            ratio(keelRatios), ratio(rocksRatios), bareRate / Double(batch),
            keel.cpuMicrosecondsPerOperation, rocksdb.cpuMicrosecondsPerOperation, bare.cpuMicrosecondsPerOperation))
    }
} catch {
    fail("\(error)")
}

print("")
print("MVCC state machine (\(mvccKeysCount) keys, \(mvccValueBytes)-byte values)")
do {
    let storage = try NodeStorage(directory: root + "/mvcc")
    let machine = storage.stateMachine
    let value = [UInt8](repeating: 0xCD, count: mvccValueBytes)
    let commands = (0..<mvccKeysCount).map {
        KVCommand.put(PutRequest(key: Array("key/\($0)".utf8), value: value)).encoded()
    }
    var index = machine.appliedIndex
    var start = now()
    for command in commands {
        index = index.advanced(by: 1)
        _ = try machine.apply(index: index, entryData: command)
    }
    let applyRate = Double(commands.count) / (now() - start)
    print(String(format: "puts/s, applied unsynced (Raft host, log already synced): %10.0f", applyRate))

    let embedded = try KeelStore.open(directory: root + "/embedded")
    var puts = 0
    let syncedRate = try rate(unit: 1) {
        _ = try embedded.put(PutRequest(key: Array("key/\(puts % mvccKeysCount)".utf8), value: value))
        puts += 1
    }
    print(String(format: "puts/s, embedded KeelStore (each put synced):               %10.0f", syncedRate))

    var generator = SystemRandomNumberGenerator()
    let reads = 50_000
    let keys = (0..<reads).map { _ in Array("key/\(Int.random(in: 0..<mvccKeysCount, using: &generator))".utf8) }
    start = now()
    var found = 0
    for key in keys { found += try machine.range(RangeRequest(key: key)).kvs.count }
    let readRate = Double(reads) / (now() - start)
    guard found == reads else { fail("point reads found \(found) of \(reads) keys") }
    print(String(format: "point reads/s (Range of one key):                           %10.0f", readRate))

    // A hot key (a lock, a counter) collects versions until compaction; reading it must not walk them.
    let hot = Array("hot".utf8)
    for _ in 0..<hotKeyVersionsCount {
        index = index.advanced(by: 1)
        _ = try machine.apply(index: index, entryData: KVCommand.put(PutRequest(key: hot, value: value)).encoded())
    }
    let hotReads = 2_000
    start = now()
    for _ in 0..<hotReads { found += try machine.range(RangeRequest(key: hot)).kvs.count }
    let hotRate = Double(hotReads) / (now() - start)
    print(String(format: "point reads/s of a key with %d versions:                 %10.0f", hotKeyVersionsCount, hotRate))
} catch {
    fail("\(error)")
}
