// The child process of the crash-safety test (Tests/KeelStorageTests/CrashSafetyTests.swift).
//
// Usage: storage-crash-writer <directory>
//
// Opens the node store in <directory>, re-applies committed entries the previous run did not
// apply (what a Raft host does on restart), then appends and applies entries forever. Each entry
// carries a Put of key "k<index % keysCount>" with value "v<index>". After every synced append
// returns, the indexes it made durable are printed, one per line, and stdout is flushed: the test
// kills this process with SIGKILL at random moments and then checks that each printed index
// survived.
import Glibc
import KeelStorage
import Raft

/// How many distinct keys the writer cycles through; the test uses the same number.
let keysCount: UInt64 = 50
/// Entries per append cycle between 1 and this, so multi-entry batches are killed mid-way too.
let appendEntriesMax: UInt64 = 8
/// The log is compacted every this many entries, keeping the last `compactionKeepEntries`.
let compactionIntervalEntries: UInt64 = 400
let compactionKeepEntries: UInt64 = 100

/// Writes straight to a file descriptor (no stdio buffer), so a printed line is in the pipe the
/// moment this returns.
func writeAll(_ descriptor: Int32, _ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if written < 0 {
            if errno == EINTR { continue }
            exit(3)
        }
        bytes = bytes.dropFirst(written)
    }
}

func command(for index: LogIndex) -> [UInt8] {
    let key = "k\(index.rawValue % keysCount)"
    return KVCommand.put(PutRequest(key: Array(key.utf8), value: Array("v\(index.rawValue)".utf8))).encoded()
}

func run(directory: String) throws {
    let storage = try NodeStorage(directory: directory)
    let term = Term(1)
    let log = storage.log
    let machine = storage.stateMachine
    if log.hardState.commit > machine.appliedIndex {
        for entry in try log.entries(from: machine.appliedIndex.advanced(by: 1), to: log.hardState.commit.advanced(by: 1)) {
            try machine.apply(index: entry.index, term: entry.term, entryData: entry.data)
        }
    }
    var generator = SystemRandomNumberGenerator()
    while true {
        let first = log.lastIndex.advanced(by: 1)
        let count = UInt64.random(in: 1...appendEntriesMax, using: &generator)
        let entries = (0..<count).map { offset in
            let index = first.advanced(by: Int64(offset))
            return Entry(term: term, index: index, data: command(for: index))
        }
        let last = entries[entries.count - 1].index
        try log.append(entries, hardState: HardState(term: term, vote: NodeID(1), commit: last))
        var line = ""
        for entry in entries { line += "\(entry.index)\n" }
        writeAll(1, line)
        for entry in entries {
            try machine.apply(index: entry.index, term: entry.term, entryData: entry.data)
        }
        if last.rawValue / compactionIntervalEntries != first.rawValue / compactionIntervalEntries,
            machine.appliedIndex.rawValue > compactionKeepEntries
        {
            let through = LogIndex(machine.appliedIndex.rawValue - compactionKeepEntries)
            if through > log.snapshotMetadata.index {
                try log.compact(through: SnapshotMetadata(index: through, term: term, confState: machine.membership))
            }
        }
    }
}

guard CommandLine.arguments.count == 2 else {
    writeAll(2, "usage: storage-crash-writer <directory>\n")
    exit(2)
}
do {
    try run(directory: CommandLine.arguments[1])
} catch {
    writeAll(2, "storage-crash-writer: \(error)\n")
    exit(1)
}
