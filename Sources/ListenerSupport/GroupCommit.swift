/// Group commit: threads that arrive together hand their items to one of them,
/// the leader, which commits them as one batch (one `write` and one `fsync`, or one
/// transaction) while the others sleep; whatever arrives meanwhile forms the next batch.
/// Durable throughput then scales with concurrency instead of paying a sync per request.
///
/// The members of the batch in flight and those of the next one wait on two different
/// condition variables (by batch parity), so a finished batch wakes only its own members
/// and one thread to lead the next. With one condition, every finished batch woke all
/// waiting workers and most went straight back to sleep: a context switch each, which with
/// 16 workers costs more CPU than the requests themselves (BENCHMARKS.md).
package final class GroupCommit<Item, Outcome>: @unchecked Sendable {
    private let lock = ConditionLock(conditions: 2)
    private var queue: [Item] = []
    /// Tickets handed out: ticket n belongs to the n-th item submitted.
    private var submitted: UInt64 = 0
    /// The last ticket of the batch in flight (or of the last batch).
    private var batchEnd: UInt64 = 0
    /// Batches started so far; the parity of a batch's number is its condition variable.
    private var batches: UInt64 = 0
    private var leading = false
    private var outcomes: [UInt64: Result<Outcome, any Error>] = [:]
    private let commit: ([Item]) -> [Result<Outcome, any Error>]

    /// Commits batches with `commit`, which returns one outcome per item, in order.
    package init(commit: @escaping ([Item]) -> [Result<Outcome, any Error>]) {
        self.commit = commit
    }

    /// Submits `item` and returns its outcome once the batch holding it is committed.
    package func submit(_ item: Item) -> Result<Outcome, any Error> {
        lock.withLock {
            submitted += 1
            let ticket = submitted
            queue.append(item)
            while true {
                if let outcome = outcomes.removeValue(forKey: ticket) { return outcome }
                if leading {
                    // Covered by the batch in flight, or else by the next one.
                    lock.wait(Int((ticket <= batchEnd ? batches : batches + 1) % 2))
                    continue
                }
                leading = true
                batches += 1
                batchEnd = submitted
                let first = submitted - UInt64(queue.count) + 1
                let batch = queue
                queue.removeAll(keepingCapacity: true)
                var results: [Result<Outcome, any Error>] = []
                lock.unlockForBody { results = commit(batch) }
                for offset in batch.indices {
                    outcomes[first + UInt64(offset)] = offset < results.count
                        ? results[offset] : .failure(GroupCommitError.missingOutcome)
                }
                leading = false
                lock.broadcast(Int(batches % 2))
                // Everyone still queued waits on the other condition: one of them leads next.
                if !queue.isEmpty { lock.signal(Int((batches + 1) % 2)) }
            }
        }
    }
}

/// A commit function returned fewer outcomes than items (a bug; the items are not stored).
package enum GroupCommitError: Error, CustomStringConvertible {
    /// No outcome for an item.
    case missingOutcome

    /// What went wrong.
    package var description: String { "group commit: no outcome for an item" }
}
