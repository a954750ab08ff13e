import Foundation
import GRPCCore
import GRPCProtobuf
import KeelNode
import KeelProto
import KeelStorage
import Synchronization

/// etcd's `etcdserverpb.Watch` service: the bidirectional stream of create, cancel and progress
/// requests, answered with created, canceled, event and progress responses as etcd 3.4 sends them.
///
/// Each stream is a ``KeelNode/WatchStream`` on the node's ``KeelNode/WatchHub``. Three tasks
/// serve it: one reads requests, one writes what the hub says is owed (running history reads for
/// watchers that are behind), one ticks progress notifications. The write waits on gRPC's flow
/// control, so a client that reads slowly only makes its watchers fall behind (and read history
/// later), never the server's memory grow.
struct WatchService: RegistrableRPCService {
    static let serviceName = "etcdserverpb.Watch"

    let node: KeelNode
    /// Watch streams open at once, per client connection and in all.
    let streams: KeepAliveStreams
    /// Between two progress notifications to a watcher that asked for them.
    let progressInterval: Duration
    /// A fragmenting watcher's responses stay under this size (etcd's `--max-request-bytes`).
    let fragmentBytesMax: Int

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        let node = node
        let streams = streams
        let progressInterval = progressInterval
        let fragmentBytesMax = fragmentBytesMax
        router.registerHandler(
            forMethod: MethodDescriptor(fullyQualifiedService: Self.serviceName, method: "Watch"),
            deserializer: ProtobufDeserializer<Etcdserverpb_WatchRequest>(),
            serializer: ProtobufSerializer<Etcdserverpb_WatchResponse>()
        ) { request, context in
            let connection = context.remotePeer
            return StreamingServerResponse { writer in
                // Counted inside the producer, which always runs to its end, so every open is closed.
                if let refusal = streams.open(connection) { throw RPCError(code: .resourceExhausted, message: refusal) }
                defer { streams.close(connection) }
                let stream: WatchStream
                do throws(WatchRefusal) { stream = try node.watchHub.openStream() } catch { throw RPCError(code: .resourceExhausted, message: error.message) }
                defer { stream.close() }
                let session = WatchSession(node: node, stream: stream, fragmentBytesMax: fragmentBytesMax)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await message in request.messages { session.handle(message) }
                        // The client closed its side: etcd keeps sending until the client cancels
                        // the call, and so does kvd.
                        try await Task.sleep(for: UnaryRoute.waitUnbounded)
                    }
                    group.addTask { try await session.send(to: writer) }
                    group.addTask {
                        while !Task.isCancelled {
                            try await Task.sleep(for: progressInterval)
                            stream.notifyProgress()
                        }
                    }
                    // Whichever ends first (the client's cancellation, a failed write, the node
                    // stopping) ends the stream.
                    try await group.next()
                    group.cancelAll()
                }
                return [:]
            }
        }
    }
}

/// One Watch stream's requests and responses.
final class WatchSession: Sendable {
    let node: KeelNode
    let stream: WatchStream
    let fragmentBytesMax: Int
    /// Watchers that asked for fragmented responses.
    private let fragmenting = Mutex<Set<Int64>>([])

    init(node: KeelNode, stream: WatchStream, fragmentBytesMax: Int) {
        self.node = node
        self.stream = stream
        self.fragmentBytesMax = fragmentBytesMax
    }

    func handle(_ message: Etcdserverpb_WatchRequest) {
        switch message.requestUnion {
        case .createRequest(let create):
            let spec = Self.spec(create)
            let id = stream.create(spec)
            if let id, create.fragment { fragmenting.withLock { _ = $0.insert(id) } }
        case .cancelRequest(let cancel):
            stream.cancel(cancel.watchID)
            fragmenting.withLock { _ = $0.remove(cancel.watchID) }
        case .progressRequest:
            stream.requestProgress()
        case nil:
            break
        }
    }

    /// etcd's reading of a create request: an empty key is `\0`, the smallest key, and a range end
    /// of `\0` means every key from the start on.
    static func spec(_ create: Etcdserverpb_WatchCreateRequest) -> WatchSpec {
        WatchSpec(
            key: create.key.isEmpty ? [0] : Array(create.key), rangeEnd: Array(create.rangeEnd),
            startRevision: create.startRevision, skipPuts: create.filters.contains(.noput),
            skipDeletes: create.filters.contains(.nodelete), prevKv: create.prevKv, progressNotify: create.progressNotify,
            chosenID: create.watchID)
    }

    /// Responses handed to gRPC in one write: each write of grpc-swift's ends in a flush, which
    /// costs more than the response itself when many watchers get the same small change.
    static let responsesPerWriteMax = 256

    /// Writes what the hub says is owed, until the stream closes.
    func send(to writer: RPCWriter<Etcdserverpb_WatchResponse>) async throws {
        for await _ in stream.wakeups {
            while let (outputs, catchUps) = stream.drain(), !(outputs.isEmpty && catchUps.isEmpty) {
                if !outputs.isEmpty {
                    let header = StorageToProto.header(await node.currentHeader())
                    // Watchers of the same keys get the same changes: convert each once per drain.
                    var converted: [EventIdentity: Mvccpb_Event] = [:]
                    var batch: [Etcdserverpb_WatchResponse] = []
                    for output in outputs {
                        batch += responses(output, header: header, converted: &converted)
                        if batch.count >= Self.responsesPerWriteMax {
                            try await writer.write(contentsOf: batch)
                            batch = []
                        }
                    }
                    if !batch.isEmpty { try await writer.write(contentsOf: batch) }
                }
                try await node.catchUp(catchUps)
            }
        }
    }

    /// One event as a watcher sees it: with or without the previous key-value.
    struct EventIdentity: Hashable {
        var revision: Int64
        var key: [UInt8]
        var withPrevious: Bool
    }

    func responses(
        _ output: WatchOutput, header: Etcdserverpb_ResponseHeader, converted: inout [EventIdentity: Mvccpb_Event]
    ) -> [Etcdserverpb_WatchResponse] {
        var response = Etcdserverpb_WatchResponse()
        response.header = header
        switch output {
        case .created(let id, let revision):
            response.header.revision = revision
            response.watchID = id
            response.created = true
        case .refused(let id, let revision, let reason):
            response.header.revision = revision
            response.watchID = id
            response.created = true
            response.canceled = true
            response.cancelReason = reason
        case .canceled(let id, let revision, let compactRevision, let reason):
            // etcd's compaction answer carries no revision in its header; a client's cancel does.
            response.header.revision = compactRevision != 0 ? 0 : revision
            response.watchID = id
            response.canceled = true
            response.compactRevision = compactRevision
            response.cancelReason = reason
            fragmenting.withLock { _ = $0.remove(id) }
        case .progress(let id, let revision):
            response.header.revision = revision
            response.watchID = id
        case .events(let id, let revision, let events):
            response.header.revision = revision
            response.watchID = id
            let protos = events.map { event in
                let identity = EventIdentity(revision: event.revision, key: event.kv.key, withPrevious: event.prevKv != nil)
                if let known = converted[identity] { return known }
                let proto = Self.event(event)
                converted[identity] = proto
                return proto
            }
            guard fragmenting.withLock({ $0.contains(id) }) else {
                response.events = protos
                return [response]
            }
            return Self.fragments(of: response, events: protos, bytesMax: fragmentBytesMax)
        }
        return [response]
    }

    /// etcd's fragmenting: events split over responses under the size limit, every one but the
    /// last marked `fragment`; one event larger than the limit goes alone.
    static func fragments(of response: Etcdserverpb_WatchResponse, events: [Mvccpb_Event], bytesMax: Int) -> [Etcdserverpb_WatchResponse] {
        var result: [Etcdserverpb_WatchResponse] = []
        var current = response
        var size = 0
        for event in events {
            let eventSize = (try? event.serializedBytes() as [UInt8])?.count ?? 0
            if !current.events.isEmpty, size + eventSize > bytesMax {
                current.fragment = true
                result.append(current)
                current = response
                size = 0
            }
            current.events.append(event)
            size += eventSize
        }
        result.append(current)
        return result
    }

    static func event(_ event: KVEvent) -> Mvccpb_Event {
        var proto = Mvccpb_Event()
        proto.type = event.kind == .put ? .put : .delete
        proto.kv = StorageToProto.keyValue(event.kv)
        if let previous = event.prevKv { proto.prevKv = StorageToProto.keyValue(previous) }
        return proto
    }
}
