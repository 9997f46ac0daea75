import ListenerSupport
/// The `dedup:` section, for a configuration without a spool: where the keys of stored
/// events are kept, and for how long a replay of one is recognised.
///
/// ```yaml
/// dedup:
///   path: data/dedup.db     # the default, beside the config file
///   window: 7d              # the default, as the spool's dedup_window
/// ```
///
/// With a spool the spool deduplicates (`spool.dedup_window`), and `dedup:` is an error.
import ContactListenerKit
package struct DedupConfiguration: Sendable, Equatable {
    /// The SQLite file holding the keys.
    package var path: String
    /// How long a stored key is remembered, in milliseconds.
    package var window: Int64 = 7 * 86_400_000

    /// The keys of the `dedup:` mapping.
    package static let keys = ["path", "window"]

    /// The default: `data/dedup.db` under `baseDirectory`, kept 7 days.
    package init(baseDirectory: String) {
        path = FileSystem.resolve("data/dedup.db", against: baseDirectory)
    }

    /// Parses the `dedup:` mapping; a relative path resolves against `baseDirectory`.
    package init(node: ConfigNode, baseDirectory: String) throws(ConfigurationError) {
        self.init(baseDirectory: baseDirectory)
        try node.requireMapping(allowed: Self.keys)
        if let pathNode = node["path"] {
            let text = try pathNode.string()
            guard !text.isEmpty else { throw pathNode.error("expected a file path, like data/dedup.db") }
            path = FileSystem.resolve(text, against: baseDirectory)
        }
        if let windowNode = node["window"] { window = try windowNode.duration() }
    }
}
