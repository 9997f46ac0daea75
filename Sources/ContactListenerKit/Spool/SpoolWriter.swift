/// Group commit for the spool: requests arriving together are stored in one transaction,
/// so concurrent requests share one fsync instead of paying one each (issue 4).
///
/// The first waiting thread becomes the leader, writes everything queued so far, and wakes
/// the others with their outcomes; whatever arrives meanwhile forms the next batch.
public final class SpoolWriter: @unchecked Sendable {
    /// The spool written to.
    public let spool: Spool
    private let lock = ConditionLock()
    private var queue: [(ticket: UInt64, item: Spool.Item)] = []
    private var outcomes: [UInt64: Result<Spool.StoreOutcome, any Error>] = [:]
    private var nextTicket: UInt64 = 0
    private var writing = false

    /// Writes to `spool`.
    public init(spool: Spool) {
        self.spool = spool
    }

    /// Stores `item` durably (or finds it a duplicate); returns once committed.
    public func store(_ item: Spool.Item) throws -> Spool.StoreOutcome {
        let result: Result<Spool.StoreOutcome, any Error> = lock.withLock {
            nextTicket += 1
            let ticket = nextTicket
            queue.append((ticket, item))
            while true {
                if let outcome = outcomes.removeValue(forKey: ticket) { return outcome }
                if writing {
                    lock.wait()
                    continue
                }
                writing = true
                let batch = queue
                queue.removeAll(keepingCapacity: true)
                var stored: Result<[Spool.StoreOutcome], any Error> = .failure(CancellationError())
                lock.unlockForBody {
                    stored = Result { try spool.store(batch.map(\.item)) }
                }
                for (index, entry) in batch.enumerated() {
                    outcomes[entry.ticket] = stored.map { $0[index] }
                }
                writing = false
                lock.broadcast()
            }
        }
        return try result.get()
    }
}
