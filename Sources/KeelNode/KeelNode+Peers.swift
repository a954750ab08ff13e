import KeelStorage
import KeelTransport
import Raft

// What the peer network reports: Raft messages, forwarded writes and their refusals, delivery reports.

extension KeelNode {
    /// Hands peer events to the actor in order. A snapshot whose image does not decode is dropped
    /// here, off the actor (reading a large image takes time): stepped into the core, it would be
    /// adopted and then halt this node when storage refuses to install it. The leader sends it
    /// again later; a correct one gets through.
    nonisolated func consume(_ events: AsyncStream<PeerEvent>) async {
        for await event in events {
            if case .message(.raft(let message)) = event, let reason = Self.invalidSnapshot(message) {
                logger.info(
                    "dropped an undecodable snapshot",
                    metadata: ["member": "\(DataDirectory.hex(id.rawValue))", "from": "\(DataDirectory.hex(message.from.rawValue))", "error": "\(reason)"])
                continue
            }
            await handle(event)
        }
    }

    /// Why `message` carries a snapshot image that storage would refuse, or nil.
    nonisolated static func invalidSnapshot(_ message: Message) -> (any Error)? {
        guard message.type == .installSnapshot, let snapshot = message.snapshot else { return nil }
        if snapshot.data.isEmpty {
            // Only the founding snapshot is empty (see ReadyWork's install).
            return snapshot.metadata.index == LogIndex(1)
                ? nil : StorageError(.snapshotInvalid, "snapshot at index \(snapshot.metadata.index) carries no image")
        }
        do {
            _ = try SnapshotData.receiver(for: snapshot.data, index: snapshot.metadata.index)
            return nil
        } catch {
            return error
        }
    }

    func handle(_ event: PeerEvent) {
        guard running, halted == nil else { return }
        if case .peerAttributes(let peer, let attributes) = event {
            // Only members: a stranger cannot grow this map.
            if machine.members.member(peer) != nil { peerAttributes[peer] = attributes }
            return
        }
        var out = NodeOutput()
        machine.step(event, now: now, into: &out)
        perform(out)
        wakeReadyLoop()
    }
}
