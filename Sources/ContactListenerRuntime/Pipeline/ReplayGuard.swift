import ContactListenerKit
import ContactListenerSQL
import ListenerSupport
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Deduplication without a spool: the transaction ids (or `webhook-id`s) of the events the
/// handlers took, kept for `window` in a small SQLite file, so a replay is never stored
/// twice, in a long-lived FastCGI process and across CGI processes alike. (With a spool,
/// the spool's own `events.dedup_key` does this inside the same transaction as the event.)
///
/// A key is claimed before the handlers run and marked stored after they all succeeded;
/// a failure releases it, so the same event sent again can still be stored. While a claim
/// is in flight another request with the same key is told so (409) instead of being
/// acknowledged: its 200 would be a lie if the first request then failed.
///
/// `synchronous=NORMAL`: a claim survives a killed process; after a power loss the last
/// moments' keys may be forgotten, which can only let a replay through, never lose an event.
///
/// In a long-lived process (`deferSettles()`, FastCGI), marking a key stored waits for the
/// next transaction, a claim's or a flush at most `settleDelay` later, instead of taking
/// one of its own: a request then costs one SQLite transaction, not two (BENCHMARKS.md: each
/// costs about ten system calls). This process's own claims see its waiting settles first;
/// another process sees the key in flight (409) until the flush. A crash before the flush
/// leaves the claim pending, as a crash during the handlers does: it turns stale after
/// `staleClaim`. A released key (a failed store) is written at once.
final class ReplayGuard: Sendable {
    /// What claiming a key found.
    enum Claim: Equatable, Sendable {
        /// The key is ours: run the handlers, then `settle`.
        case claimed
        /// The handlers already took an event with this key within the window.
        case duplicate
        /// Another request holds the key right now.
        case inFlight
    }

    /// A claim not settled after this long belongs to a process that died mid-request.
    static let staleClaim: Int64 = 10 * 60_000

    private let store: Store
    private let window: Int64
    private let group: GroupCommit<Operation, Claim>
    /// When this process last deleted keys past the window (Unix ms); guarded by the queue.
    private let lastPurge = Mutex<Int64>(0)
    /// Settles waiting for the next transaction, and the flusher's state.
    private let waiting: Waiting
    /// The longest a waiting settle waits for a claim's transaction before a flush of its own.
    static let settleDelay: Int64 = 50
    /// The most settles kept waiting (a database that fails every write must not grow
    /// this without bound); beyond it the oldest are dropped, their claims left to turn stale.
    static let maxWaiting = 10_000

    private enum Operation {
        case claim(key: String, owner: String, now: Int64)
        case settle(key: String, owner: String, stored: Bool, now: Int64)
        /// Applies the waiting settles and nothing else.
        case flush
    }

    /// The settles waiting for a transaction, under one lock with the flusher's wake-up.
    private final class Waiting: @unchecked Sendable {
        let lock = ConditionLock()
        var settles: [Operation] = []
        var deferring = false
        var closing = false
        /// True while the flusher sleeps with nothing to flush (only then does a new settle
        /// wake it: a wake-up per request would cost a context switch each).
        var flusherIdle = false
        var flusher: WorkerThread?

        /// Takes every waiting settle (the transaction about to run applies them).
        func take() -> [Operation] {
            lock.withLock {
                let taken = settles
                settles.removeAll(keepingCapacity: true)
                return taken
            }
        }

        /// Puts back settles whose transaction failed, ahead of newer ones.
        func restore(_ operations: [Operation]) {
            guard !operations.isEmpty else { return }
            lock.withLock {
                settles = operations + settles
                dropOldest()
            }
        }

        /// Keeps at most `maxWaiting` settles, dropping the oldest; call inside `lock`.
        func dropOldest() {
            if settles.count > ReplayGuard.maxWaiting { settles.removeFirst(settles.count - ReplayGuard.maxWaiting) }
        }
    }

    /// The guard's connection and its statements, prepared once, under one lock. The
    /// statements go through SQLite's C API (`SQLiteFile.Connection`): GRDB's statement
    /// cache and argument handling cost a third of the guard's work per request, and its
    /// open most of a CGI request (BENCHMARKS.md).
    private final class Store: @unchecked Sendable {
        private let lock = Mutex<Void>(())
        let connection: SQLiteFile.Connection
        let claim, state, stored, release, purge: SQLiteFile.Statement

        init(_ connection: SQLiteFile.Connection) throws {
            self.connection = connection
            // One statement in the common case: the key is new, or its last claim is stale
            // (stored before the window, or pending past `staleClaim`), so it is ours.
            claim = try connection.prepare("""
                INSERT INTO seen (key, state, owner, at) VALUES (?1, 'pending', ?2, ?3)
                ON CONFLICT (key) DO UPDATE SET state = 'pending', owner = ?2, at = ?3
                WHERE NOT ((state = 'stored' AND at >= ?4) OR (state = 'pending' AND at >= ?5))
                """)
            state = try connection.prepare("SELECT state FROM seen WHERE key = ?1")
            stored = try connection.prepare("UPDATE seen SET state = 'stored', at = ?1 WHERE key = ?2 AND owner = ?3")
            release = try connection.prepare("DELETE FROM seen WHERE key = ?1 AND owner = ?2")
            purge = try connection.prepare("DELETE FROM seen WHERE at < ?1 AND (state = 'stored' OR at < ?2)")
        }

        /// Runs `body` with the connection to itself.
        func locked<T: Sendable>(_ body: (Store) throws -> T) throws -> T {
            try lock.withLock { _ in try body(self) }
        }
    }

    /// Opens (creating) the guard's file at `path`; keys are kept for `window` ms.
    init(path: String, window: Int64) throws {
        let connection = try SQLiteFile.connect(path, durability: .normal, migrations: [("v1", """
            CREATE TABLE seen (
              key TEXT PRIMARY KEY,        -- SHA-256 of the transaction id or webhook-id
              state TEXT NOT NULL,         -- 'pending' while the handlers run, then 'stored'
              owner TEXT NOT NULL,         -- the request id that holds the claim
              at INTEGER NOT NULL          -- Unix ms of the claim or of the store
            ) WITHOUT ROWID;
            CREATE INDEX seen_at ON seen(at);
            """)])
        let store: Store
        do { store = try Store(connection) } catch { connection.close(); throw error }
        self.store = store
        self.window = window
        let waiting = Waiting()
        self.waiting = waiting
        // Concurrent requests share one transaction, as the spool's group commit does; the
        // settles waiting for a transaction go first in it.
        group = GroupCommit { [store, window, waiting] operations in
            let settles = waiting.take()
            do {
                return try store.locked { store in
                    try store.connection.inTransaction {
                        for settle in settles { _ = try Self.apply(settle, in: store, window: window) }
                        return try operations.map { operation in .success(try Self.apply(operation, in: store, window: window)) }
                    }
                }
            } catch {
                waiting.restore(settles)
                return operations.map { _ in .failure(error) }
            }
        }
    }

    /// From now on, a key marked stored waits for the next transaction (at most
    /// `settleDelay` ms) instead of taking one of its own; FastCGI mode calls this.
    func deferSettles() throws {
        let started = waiting.lock.withLock { () -> Bool in
            if waiting.deferring { return false }
            waiting.deferring = true
            return true
        }
        guard started else { return }
        let thread = try WorkerThread(stackBytes: 256 * 1024) { [self] in flushLoop() }
        waiting.lock.withLock { waiting.flusher = thread }
    }

    /// Flushes waiting settles `settleDelay` ms after the first of them, until `close`.
    private func flushLoop() {
        while true {
            let run = waiting.lock.withLock { () -> Bool in
                while waiting.settles.isEmpty && !waiting.closing {
                    waiting.flusherIdle = true
                    waiting.lock.wait()
                    waiting.flusherIdle = false
                }
                if waiting.closing { return false }
                // Claims arriving meanwhile apply the settles in their own transactions.
                waiting.lock.wait(milliseconds: Self.settleDelay)
                return !waiting.closing && !waiting.settles.isEmpty
            }
            guard run else { return }
            _ = group.submit(.flush)
        }
    }

    /// The first column of `sql`'s first row on the guard's connection, for tests of its settings.
    func textForTests(_ sql: String) throws -> String? {
        try store.locked { store in try store.connection.prepare(sql).firstText() }
    }

    /// Writes the waiting settles, then closes the file (checkpointing its WAL, as
    /// `Spool.close` does).
    func close() {
        let flusher = waiting.lock.withLock { () -> WorkerThread? in
            waiting.closing = true
            waiting.deferring = false
            waiting.lock.broadcast()
            defer { waiting.flusher = nil }
            return waiting.flusher
        }
        flusher?.join()
        if waiting.lock.withLock({ !waiting.settles.isEmpty }) { _ = group.submit(.flush) }
        try? store.locked { store in store.connection.close() }
    }

    /// Claims `key` for the request `owner`.
    func claim(_ key: String, owner: String, now: Int64 = Clock.milliseconds()) throws -> Claim {
        purgeIfDue(now: now)
        return try group.submit(.claim(key: key, owner: owner, now: now)).get()
    }

    /// Settles `owner`'s claim on `key`: kept as stored, or released after a failure.
    func settle(_ key: String, owner: String, stored: Bool, now: Int64 = Clock.milliseconds()) throws {
        let operation = Operation.settle(key: key, owner: owner, stored: stored, now: now)
        let deferred = stored && waiting.lock.withLock { () -> Bool in
            guard waiting.deferring else { return false }
            waiting.settles.append(operation)
            waiting.dropOldest()
            if waiting.flusherIdle { waiting.lock.broadcast() }
            return true
        }
        if !deferred { _ = try group.submit(operation).get() }
    }

    private static func apply(_ operation: Operation, in store: Store, window: Int64) throws -> Claim {
        switch operation {
        case .claim(let key, let owner, let now):
            try store.claim.bind(1, key)
            try store.claim.bind(2, owner)
            try store.claim.bind(3, now)
            try store.claim.bind(4, now - window)
            try store.claim.bind(5, now - staleClaim)
            try store.claim.run()
            if store.connection.changes > 0 { return .claimed }
            // The key is held: by a stored event within the window, or by a request in flight.
            try store.state.bind(1, key)
            return try store.state.firstText() == "stored" ? .duplicate : .inFlight
        case .flush:
            return .claimed
        case .settle(let key, let owner, let stored, let now):
            if stored {
                try store.stored.bind(1, now)
                try store.stored.bind(2, key)
                try store.stored.bind(3, owner)
                try store.stored.run()
            } else {
                try store.release.bind(1, key)
                try store.release.bind(2, owner)
                try store.release.run()
            }
            return .claimed
        }
    }

    /// Deletes stored keys past the window, at most once an hour per process.
    private func purgeIfDue(now: Int64) {
        let due = lastPurge.withLock { last in
            guard now - last >= 3_600_000 else { return false }
            last = now
            return true
        }
        guard due else { return }
        _ = try? store.locked { store in
            try store.purge.bind(1, now - window)
            try store.purge.bind(2, now - Self.staleClaim)
            try store.purge.run()
        }
    }
}
