/// Lets concurrent writers share one `fsync`: a writer that finished its `write` waits for
/// a sync that started after it, and one of the waiters (the leader) runs it for all.
/// Durable throughput then scales with concurrency instead of collapsing to one fsync
/// per request (issue 4, "group commit").
public final class GroupCommit: @unchecked Sendable {
    private let lock = ConditionLock()
    private var written: UInt64 = 0
    private var synced: UInt64 = 0
    private var syncing = false
    /// Ranges of writes whose covering sync failed: those writes must not be acknowledged,
    /// even if a later sync succeeds (after a failed fsync the kernel may have dropped them).
    private var failures: [(range: ClosedRange<UInt64>, error: SystemError)] = []
    private let sync: () throws(SystemError) -> Void

    /// Uses `sync` (e.g. `fdatasync` of the file) to make writes durable.
    public init(sync: @escaping () throws(SystemError) -> Void) {
        self.sync = sync
    }

    /// Records a completed write and returns its ticket for `waitDurable`.
    public func didWrite() -> UInt64 {
        lock.withLock {
            written += 1
            return written
        }
    }

    /// Returns once a sync that began after the write with `ticket` succeeded.
    public func waitDurable(_ ticket: UInt64) throws(SystemError) {
        var failure: SystemError?
        lock.withLock {
            while true {
                if let failed = failures.last(where: { $0.range.contains(ticket) }) {
                    failure = failed.error
                    return
                }
                if synced >= ticket { return }
                if syncing {
                    lock.wait()
                    continue
                }
                syncing = true
                let start = synced + 1
                let target = written
                var error: SystemError?
                // Run the sync without the lock so new writes can queue for the next round.
                withUnlocked {
                    do throws(SystemError) { try sync() } catch let caught { error = caught }
                }
                syncing = false
                if let error {
                    failures.append((start...target, error))
                    if failures.count > 64 { failures.removeFirst() }
                }
                synced = target
                lock.broadcast()
            }
        }
        if let failure { throw failure }
    }

    private func withUnlocked(_ body: () -> Void) {
        lock.unlockForBody(body)
    }
}
