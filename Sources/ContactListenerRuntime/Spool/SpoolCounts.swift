import ContactListenerKit

/// Deliveries counted by handler and state (`Spool.status()`), as the status page and
/// `spool status` both show them: every state for every handler that has any delivery.
package struct SpoolCounts: Sendable {
    /// The counts as the spool grouped them (states without deliveries are absent).
    package let entries: [(handler: String, state: DeliveryState, count: Int)]

    /// Counts from `entries`.
    package init(_ entries: [(handler: String, state: DeliveryState, count: Int)]) {
        self.entries = entries
    }

    /// The handlers with deliveries, sorted.
    package var handlers: [String] { Array(Set(entries.map(\.handler))).sorted() }

    /// How many deliveries of `handler` are in `state`.
    package func count(_ handler: String, _ state: DeliveryState) -> Int {
        entries.first { $0.handler == handler && $0.state == state }?.count ?? 0
    }

    /// `{"handler": {"pending": n, "delivered": n, "failed": n, "dead": n}, …}`.
    package func write(to writer: inout JSONWriter) {
        writer.beginObject()
        for handler in handlers {
            writer.key(handler)
            writer.beginObject()
            for state in DeliveryState.allCases {
                writer.key(state.rawValue)
                writer.int(count(handler, state))
            }
            writer.endObject()
        }
        writer.endObject()
    }
}
