import ContactListenerKit
import ListenerSupport
/// Group commit for the spool: requests arriving together are stored in one transaction,
/// so concurrent requests share one fsync instead of paying one each.
///
/// `GroupCommit` does the batching: the first waiting thread becomes the leader, writes
/// everything queued so far in one transaction, and wakes the others with their outcomes.
package final class SpoolWriter: @unchecked Sendable {
    /// The spool written to.
    package let spool: Spool
    private let group: GroupCommit<Spool.Item, Spool.StoreOutcome>

    /// Writes to `spool`.
    package init(spool: Spool) {
        self.spool = spool
        group = GroupCommit { batch in
            do {
                return try spool.store(batch).map { .success($0) }
            } catch {
                return batch.map { _ in .failure(error) }
            }
        }
    }

    /// Stores `item` durably (or finds it a duplicate); returns once committed.
    package func store(_ item: Spool.Item) throws -> Spool.StoreOutcome {
        try group.submit(item).get()
    }
}
