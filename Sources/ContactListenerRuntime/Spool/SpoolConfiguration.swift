import ListenerSupport
/// The `spool:` section: where accepted events wait for their handlers, and how they retry.
///
/// ```yaml
/// spool:
///   path: /var/lib/contact-listener/spool.db
///   retry: [5s, 5m, 30m, 2h, 5h, 10h, 10h]
///   dedup_window: 7d
///   retention: 30d
/// ```
import ContactListenerKit
package struct SpoolConfiguration: Sendable, Equatable {
    /// The SQLite file (WAL mode, synchronous=FULL).
    package var path: String
    /// The retry schedule.
    package var retry: RetrySchedule = .default
    /// How long a transaction id stays known for deduplication, in milliseconds.
    package var dedupWindow: Int64 = 7 * 86_400_000
    /// How long delivered events are kept before they are purged, in milliseconds.
    package var retention: Int64 = 30 * 86_400_000
    /// How long a dispatcher may hold a claimed delivery before another may take it over
    /// (renewed while it works), in milliseconds; at most `maxLease`.
    package var lease: Int64 = 60_000
    /// In CGI mode, how long the process may deliver after answering.
    package var cgiDeliveryBudget: Int64 = 5_000
    /// Events per delivery batch.
    package var batchSize: Int = 64

    /// The longest `lease`: a day. A stored lease longer than this holds nothing (see
    /// `Clock.leaseMilliseconds`).
    static let maxLease: Int64 = 86_400_000

    /// The keys of the `spool:` mapping.
    package static let keys = ["path", "retry", "jitter", "dedup_window", "retention", "lease", "cgi_delivery_budget", "batch_size"]

    /// A spool at `path` with the defaults.
    package init(path: String) {
        self.path = path
    }

    /// Parses the `spool:` mapping; relative paths resolve against `baseDirectory`.
    package init(node: ConfigNode, baseDirectory: String) throws(ConfigurationError) {
        try node.requireMapping(allowed: Self.keys)
        guard let pathNode = node["path"] else { throw node.error("the spool needs 'path' (e.g. /var/lib/contact-listener/spool.db)") }
        let path = try pathNode.string()
        self.init(path: FileSystem.resolve(path, against: baseDirectory))
        func duration(_ child: ConfigNode) throws(ConfigurationError) -> Int64 { try child.duration() }
        if let retry = node["retry"] {
            var delays: [Int64] = []
            for element in try retry.elements() { delays.append(try duration(element)) }
            self.retry.delays = delays
        }
        if let jitter = node["jitter"] {
            let text = try jitter.string()
            guard let value = Double(text), (0...1).contains(value) else { throw jitter.error("expected a fraction between 0 and 1") }
            self.retry.jitter = value
        }
        if let window = node["dedup_window"] { dedupWindow = try duration(window) }
        if let retention = node["retention"] { self.retention = try duration(retention) }
        if let lease = node["lease"] { self.lease = try lease.duration(in: 100...Self.maxLease) }
        if let budget = node["cgi_delivery_budget"] { cgiDeliveryBudget = try duration(budget) }
        if let batch = node["batch_size"] {
            batchSize = try batch.int()
            guard (1...10_000).contains(batchSize) else { throw batch.error("must be between 1 and 10000") }
        }
    }
}
