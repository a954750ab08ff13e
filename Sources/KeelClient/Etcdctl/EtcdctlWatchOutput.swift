import Foundation
public import KeelProto

/// etcdctl 3.4's output of `watch`, `lock` and `elect`.
extension EtcdctlPrinter {
    /// One watch response: per event its type, the previous key-value when the server sent one, and
    /// the key-value; with `-w json` the client library's `WatchResponse` struct on one line.
    public func watch(_ response: Etcdserverpb_WatchResponse) throws(EtcdctlUsageError) -> CommandOutput {
        try noTable()
        if format == .json { return CommandOutput(stdout: GoJSON.encode(Self.watchJSON(response)) + "\n") }
        var out = ""
        for event in response.events {
            out += Self.eventType(event.type) + "\n"
            if event.hasPrevKv { out += Self.text(event.prevKv.key) + "\n" + Self.text(event.prevKv.value) + "\n" }
            out += Self.text(event.kv.key) + "\n" + Self.text(event.kv.value) + "\n"
        }
        return CommandOutput(stdout: out)
    }

    /// etcd's name of an event type (`mvccpb.Event_EventType.String()`).
    public static func eventType(_ type: Mvccpb_Event.EventType) -> String {
        switch type {
        case .put: "PUT"
        case .delete: "DELETE"
        case .UNRECOGNIZED(let value): "\(value)"
        }
    }

    /// The environment etcdctl gives a `watch ... -- command` for one event: the response's header
    /// revision, and Go-quoted type, key and value.
    public static func watchEnvironment(_ event: Mvccpb_Event, headerRevision: Int64) -> [String: String] {
        [
            "ETCD_WATCH_REVISION": String(headerRevision),
            "ETCD_WATCH_EVENT_TYPE": GoInteger.goQuote(eventType(event.type)),
            "ETCD_WATCH_KEY": GoInteger.goQuote(text(event.kv.key)),
            "ETCD_WATCH_VALUE": GoInteger.goQuote(text(event.kv.value)),
        ]
    }

    /// Go's `%q` of a string (`strconv.Quote`), as etcdctl quotes names in messages.
    public static func goQuoted(_ text: String) -> String { GoInteger.goQuote(text) }

    /// The answer that cancelled a watch as `-w json` prints it; clientv3 hands it over with an
    /// empty, not a nil, list of events.
    public func watchCancellation(_ response: Etcdserverpb_WatchResponse) -> String {
        guard case .object(var fields) = Self.watchJSON(response) else { return "" }
        if let index = fields.firstIndex(where: { $0.0 == "Events" }) { fields[index].1 = .array([]) }
        return GoJSON.encode(.object(fields)) + "\n"
    }

    /// What etcdctl prints on standard error when the server cancels a watch, before its
    /// "Error: watch is canceled by the server".
    public static func watchCanceled(reason: String) -> String {
        "watch was canceled (\(reason))\n"
    }

    /// The message after "Error: " when a watch ends, with etcdctl's exit code for it (ExitInterrupted).
    public static let watchCanceledError = EtcdctlUsageError("watch is canceled by the server", exitCode: 5)

    /// A lock's or a leader's key-value as `lock` and `elect` print it: key line, value line.
    public static func keyValueLines(_ kv: Mvccpb_KeyValue) -> String {
        text(kv.key) + "\n" + text(kv.value) + "\n"
    }

    /// clientv3's `WatchResponse` as encoding/json writes it: exported Go fields without tags, none
    /// of them omitted; the header and events inside keep etcd's tags and `omitempty`.
    static func watchJSON(_ response: Etcdserverpb_WatchResponse) -> GoJSON.Value {
        .object([
            ("Header", json(response.header)),
            ("Events", response.events.isEmpty ? .null : .array(response.events.map(eventJSON))),
            ("CompactRevision", .int(response.compactRevision)),
            ("Canceled", .bool(response.canceled)),
            ("Created", .bool(response.created)),
        ])
    }

    static func eventJSON(_ event: Mvccpb_Event) -> GoJSON.Value {
        GoJSON.object([
            ("type", .int(Int64(event.type.rawValue))),
            ("kv", event.hasKv ? json(event.kv) : .null),
            ("prev_kv", event.hasPrevKv ? json(event.prevKv) : .null),
        ])
    }
}
