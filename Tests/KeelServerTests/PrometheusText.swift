import Foundation

/// The parts of Prometheus's text format that the metric comparisons need: each family's type,
/// its label names (without a histogram's `le`), a histogram's bucket bounds, and the raw samples.
struct PrometheusText {
    var types: [String: String] = [:]
    var labelNames: [String: Set<String>] = [:]
    var buckets: [String: [Double]] = [:]
    var samples: [String] = []

    static let empty = PrometheusText()

    private init() {}

    init(_ text: String) throws {
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4 else { throw ClusterTestError("bad TYPE line: \(line)") }
                types[String(parts[2])] = String(parts[3])
            } else if !line.hasPrefix("#"), !line.isEmpty {
                samples.append(line)
            }
        }
        for sample in samples {
            let nameEnd = sample.firstIndex(where: { $0 == "{" || $0 == " " }) ?? sample.endIndex
            let name = String(sample[..<nameEnd])
            let family = family(of: name)
            let labels = try Self.labels(in: sample)
            labelNames[family, default: []].formUnion(labels.keys.filter { $0 != "le" })
            if name == family + "_bucket", types[family] == "histogram", let bound = labels["le"], bound != "+Inf" {
                guard let value = Double(bound) else { throw ClusterTestError("bad bucket bound in \(sample)") }
                if !(buckets[family]?.contains(value) ?? false) { buckets[family, default: []].append(value) }
            }
        }
        for family in buckets.keys { buckets[family]?.sort() }
    }

    /// A histogram's `_bucket`, `_sum` and `_count` samples belong to its family.
    private func family(of name: String) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] == "histogram" || types[base] == "summary" { return base }
        }
        return name
    }

    /// `{a="x",b="y"}` of a sample line.
    static func labels(in sample: String) throws -> [String: String] {
        guard let open = sample.firstIndex(of: "{") else { return [:] }
        var result: [String: String] = [:]
        var index = sample.index(after: open)
        while index < sample.endIndex, sample[index] != "}" {
            guard let equals = sample[index...].firstIndex(of: "="), sample.index(after: equals) < sample.endIndex,
                sample[sample.index(after: equals)] == "\""
            else { throw ClusterTestError("bad labels in \(sample)") }
            let key = String(sample[index..<equals])
            var cursor = sample.index(equals, offsetBy: 2)
            var value = ""
            while cursor < sample.endIndex, sample[cursor] != "\"" {
                if sample[cursor] == "\\" { cursor = sample.index(after: cursor) }
                guard cursor < sample.endIndex else { break }
                value.append(sample[cursor])
                cursor = sample.index(after: cursor)
            }
            guard cursor < sample.endIndex else { throw ClusterTestError("unterminated label in \(sample)") }
            result[key] = value
            index = sample.index(after: cursor)
            if index < sample.endIndex, sample[index] == "," { index = sample.index(after: index) }
        }
        return result
    }
}

/// The lines of a real etcd 3.4.23's `/metrics` for the metrics kvd exports under etcd's names
/// (`Fixtures/etcd-metrics/etcd-3.4.23.prom`, from a two-member cluster after one put).
enum EtcdMetricsFixture {
    static let requiredNames = [
        "etcd_server_has_leader", "etcd_server_is_leader", "etcd_server_leader_changes_seen_total",
        "etcd_server_proposals_committed_total", "etcd_server_proposals_applied_total", "etcd_server_proposals_pending",
        "etcd_server_proposals_failed_total", "etcd_disk_wal_fsync_duration_seconds", "etcd_disk_backend_commit_duration_seconds",
        "etcd_mvcc_db_total_size_in_bytes", "etcd_network_peer_round_trip_time_seconds", "grpc_server_started_total",
        "grpc_server_handled_total",
    ]

    static func text() throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/etcd-metrics/etcd-3.4.23.prom")
        return try String(contentsOf: url, encoding: .utf8)
    }
}
