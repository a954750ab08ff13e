import ArgumentParser
import Foundation
import KeelClient

/// `put KEY [VALUE]`: writes a key; without VALUE the value is read from standard input.
struct PutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "put", abstract: "Puts the given key into the store.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The key.") var key: String
    @Argument(help: "The value (read from standard input when left out).") var value: String?
    @Flag(name: .customLong("prev-kv"), help: "Print the previous key-value pair.") var prevKV = false
    @Option(help: "The lease (hexadecimal ID) to attach the key to; 0 for none.") var lease = "0"

    func run() async throws {
        let printer = EtcdctlPrinter(format: global.writeOut)
        let leaseID: Int64
        do {
            leaseID = try EtcdctlLeaseID.parseFlag(lease)
        } catch {
            throw CommandFailure(error)
        }
        let value = try self.value ?? readStandardInput(limitBytes: Self.standardInputBytesMax)
        let request = EtcdctlRequests.put(key: Data(key.utf8), value: Data(value.utf8), prevKV: prevKV, lease: leaseID)
        try await global.withClient { client in
            emit(try printer.put(try await client.put(request)))
        }
    }

    /// The largest value read from standard input; etcd's own request limit is far below it.
    static let standardInputBytesMax = 64 << 20
}

/// `get KEY [RANGE_END]`.
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Gets the key or a range of keys.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The key, or the first key of the range.") var key: String
    @Argument(help: "The end of the range [KEY, RANGE_END).") var rangeEnd: String?
    @Flag(help: "Get every key with KEY as prefix.") var prefix = false
    @Flag(name: .customLong("from-key"), help: "Get every key >= KEY.") var fromKey = false
    @Option(help: "Revision to read at (0: the newest).") var rev: Int64 = 0
    @Option(help: "Most keys to return (0: no limit).") var limit: Int64 = 0
    @Flag(name: .customLong("keys-only"), help: "Keys without values.") var keysOnly = false
    @Flag(name: .customLong("count-only"), help: "Only the count of keys.") var countOnly = false
    @Flag(name: .customLong("print-value-only"), help: "Values without keys (simple format).") var printValueOnly = false
    @Option(help: "Linearizable (l) or serializable (s).") var consistency: String = "l"
    @Option(help: "Sort order: ASCEND or DESCEND.") var order: String = ""
    @Option(name: .customLong("sort-by"), help: "Sort by CREATE, KEY, MODIFY, VALUE or VERSION.") var sortBy: String = ""

    func run() async throws {
        var options = GetOptions()
        options.prefix = prefix
        options.fromKey = fromKey
        options.revision = rev
        options.limit = limit
        options.keysOnly = keysOnly
        options.countOnly = countOnly
        options.consistency = consistency
        options.sortOrder = order
        options.sortBy = sortBy
        let request: RangeRequest
        do {
            request = try EtcdctlRequests.range(
                key: Data(key.utf8), rangeEnd: rangeEnd.map { Data($0.utf8) }, options: options)
        } catch {
            throw CommandFailure(error)
        }
        let printer = EtcdctlPrinter(format: global.writeOut, valueOnly: printValueOnly)
        try await global.withClient { client in
            emit(try printer.get(try await client.range(request)))
        }
    }
}

/// `del KEY [RANGE_END]`.
struct DelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "del", abstract: "Removes the key or a range of keys.", aliases: ["delete"])

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The key, or the first key of the range.") var key: String
    @Argument(help: "The end of the range [KEY, RANGE_END).") var rangeEnd: String?
    @Flag(help: "Delete every key with KEY as prefix.") var prefix = false
    @Flag(name: .customLong("from-key"), help: "Delete every key >= KEY.") var fromKey = false
    @Flag(name: .customLong("prev-kv"), help: "Print the deleted key-value pairs.") var prevKV = false

    func run() async throws {
        let request: DeleteRangeRequest
        do {
            request = try EtcdctlRequests.delete(
                key: Data(key.utf8), rangeEnd: rangeEnd.map { Data($0.utf8) }, prefix: prefix, fromKey: fromKey,
                prevKV: prevKV)
        } catch {
            throw CommandFailure(error)
        }
        let printer = EtcdctlPrinter(format: global.writeOut)
        try await global.withClient { client in
            emit(try printer.delete(try await client.deleteRange(request)))
        }
    }
}

/// `txn`: reads compares, success and failure requests from standard input (etcdctl's format).
struct TxnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "txn", abstract: "Runs a transaction read from standard input, in etcdctl's format.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let request: TxnRequest
        do {
            request = try TxnParser.parse(try readStandardInput(limitBytes: Self.standardInputBytesMax))
        } catch {
            throw CommandFailure(error)
        }
        let printer = EtcdctlPrinter(format: global.writeOut)
        try await global.withClient { client in
            emit(try printer.txn(try await client.txn(request)))
        }
    }

    /// The largest txn input read.
    static let standardInputBytesMax = 64 << 20
}

/// `compaction REV`.
struct CompactionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compaction", abstract: "Discards the history before the given revision.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The revision to compact to.") var revision: Int64
    @Flag(help: "Wait until the compaction is applied to the storage.") var physical = false

    func run() async throws {
        var request = CompactionRequest()
        request.revision = revision
        request.physical = physical
        let printer = EtcdctlPrinter(format: global.writeOut)
        try await global.withClient { client in
            _ = try await client.compact(request)
            emit(printer.compaction(revision: revision))
        }
    }
}

/// Reads all of standard input, refusing more than `limitBytes`.
func readStandardInput(limitBytes: Int) throws -> String {
    var data = Data()
    while let chunk = try FileHandle.standardInput.read(upToCount: 1 << 16), !chunk.isEmpty {
        data.append(chunk)
        guard data.count <= limitBytes else {
            throw CommandFailure(message: "standard input is larger than \(limitBytes) bytes", exitCode: 3)
        }
    }
    return String(decoding: data, as: UTF8.self)
}
