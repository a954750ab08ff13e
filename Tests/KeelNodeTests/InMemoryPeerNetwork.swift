import Foundation
import KeelTransport
import Raft

/// An in-process peer network for the node tests: messages go straight into the receiver's event
/// stream; links can be cut per node. Delivery reports (unreachable, snapshot status) are sent as
/// the TCP transport sends them.
///
/// `@unchecked Sendable`: every mutable field is read and written under `lock`.
final class InMemoryHub: @unchecked Sendable {
    /// Events a node has not consumed yet beyond this are dropped (oldest kept), as a full queue would.
    static let inboxEventsMax = 100_000

    private let lock = NSLock()
    private var inboxes: [NodeID: AsyncStream<PeerEvent>.Continuation] = [:]
    private var isolated: Set<NodeID> = []
    /// Raft messages of a type to a node that are lost, while everything else gets through.
    private var dropped: Set<DropRule> = []

    private struct DropRule: Hashable {
        var type: MessageType
        var to: NodeID
    }
    private var attributes: [NodeID: MemberAttributes] = [:]

    /// A fresh endpoint for `id` (a restarted node gets a new event stream; the old one ends).
    func endpoint(_ id: NodeID, attributes mine: MemberAttributes? = nil) -> InMemoryPeerNetwork {
        let (stream, continuation) = AsyncStream<PeerEvent>.makeStream(bufferingPolicy: .bufferingOldest(Self.inboxEventsMax))
        let (old, others, known) = lock.withLock { () -> (AsyncStream<PeerEvent>.Continuation?, [AsyncStream<PeerEvent>.Continuation], [NodeID: MemberAttributes]) in
            let old = inboxes[id]
            inboxes[id] = continuation
            if let mine { attributes[id] = mine }
            return (old, inboxes.filter { $0.key != id }.map(\.value), attributes)
        }
        old?.finish()
        // Peers introduce themselves on connecting.
        if let mine { for other in others { other.yield(.peerAttributes(id, mine)) } }
        for (peer, theirs) in known where peer != id { continuation.yield(.peerAttributes(peer, theirs)) }
        return InMemoryPeerNetwork(id: id, hub: self, events: stream)
    }

    /// Cuts every link to and from `id`.
    func isolate(_ id: NodeID) { lock.withLock { _ = isolated.insert(id) } }

    /// Loses every Raft message of `type` sent to `id` until ``heal()``.
    func drop(_ type: MessageType, to id: NodeID) { lock.withLock { _ = dropped.insert(DropRule(type: type, to: id)) } }

    /// Restores every link and stops dropping.
    func heal() {
        lock.withLock {
            isolated = []
            dropped = []
        }
    }

    /// The node is gone (stopped): messages to it are lost.
    func remove(_ id: NodeID) {
        let old = lock.withLock { inboxes.removeValue(forKey: id) }
        old?.finish()
    }

    func deliver(from sender: NodeID, _ messages: [PeerMessage]) {
        for message in messages {
            let (target, reply, lost) = lock.withLock {
                () -> (AsyncStream<PeerEvent>.Continuation?, AsyncStream<PeerEvent>.Continuation?, Bool) in
                let blocked = isolated.contains(sender) || isolated.contains(message.to)
                var lost = false
                if case .raft(let raft) = message { lost = dropped.contains(DropRule(type: raft.type, to: message.to)) }
                return (blocked ? nil : inboxes[message.to], inboxes[sender], lost)
            }
            if lost { continue }
            guard let target else {
                reply?.yield(.unreachable(message.to))
                continue
            }
            target.yield(.message(message))
            if case .raft(let raft) = message, raft.type == .installSnapshot {
                reply?.yield(.snapshotStatus(message.to, succeeded: true))
            }
        }
    }
}

/// One node's side of an ``InMemoryHub``.
struct InMemoryPeerNetwork: PeerNetwork {
    let id: NodeID
    let hub: InMemoryHub
    let events: AsyncStream<PeerEvent>

    func send(_ messages: [PeerMessage]) { hub.deliver(from: id, messages) }
}
