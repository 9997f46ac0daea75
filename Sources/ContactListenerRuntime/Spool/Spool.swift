import Foundation
import ContactListenerKit
import ContactListenerSQL
#if canImport(Glibc)
import Glibc
#endif
@preconcurrency import GRDB

/// The durable spool: every accepted event is committed here (SQLite in WAL mode with
/// `synchronous=FULL`, so a commit survives `kill -9` and power loss) before the listener
/// answers 200; a dispatcher then delivers it to each handler with its own state.
///
/// Several processes may share one spool (CGI mode): SQLite's locking serializes writers,
/// and a delivery is claimed with a lease so that two processes never deliver it at once.
/// A lease is named by its claim (`owner`) and measured on `Clock.leaseMilliseconds`; only
/// the claim that still holds it may renew it or record the outcome, so a process that
/// stalled past its lease changes nothing that the process which took over recorded.
package final class Spool: Sendable {
    /// The configuration in force.
    package let configuration: SpoolConfiguration
    /// The handler names every new event is queued for.
    package let handlerNames: [String]
    let database: DatabaseQueue

    /// An event on its way into the spool.
    package struct Item: Sendable {
        /// Deduplication key (the transaction id or webhook-id), or nil for none.
        package var dedupKey: String?
        /// The event's transaction id.
        package var transactionID: String?
        /// The listener's request id.
        package var requestID: String
        /// The event's JSON.
        package var json: [UInt8]
        /// The contact's key (`Spool.contactKey`), or nil when the event names no contact:
        /// a handler delivers one contact's events in the order they were received.
        package var contactKey: String?
        /// The contact's email, trimmed and lowercased (`SQLKey.normalized`), which the
        /// console searches by; nil when the event has none.
        package var email: String?

        /// Creates an item.
        package init(dedupKey: String?, transactionID: String?, requestID: String, json: [UInt8], contactKey: String? = nil, email: String? = nil) {
            self.dedupKey = dedupKey
            self.transactionID = transactionID
            self.requestID = requestID
            self.json = json
            self.contactKey = contactKey
            self.email = email
        }
    }

    /// What storing an item did.
    package enum StoreOutcome: Sendable, Equatable {
        /// Stored under this spool id.
        case stored(Int64)
        /// Already in the spool (same dedup key within the window) under this id.
        case duplicate(Int64)
    }

    /// A delivery a dispatcher has claimed.
    package struct Claim: Sendable {
        /// The spool id of the event.
        package var eventID: Int64
        /// The listener's request id of the event.
        package var requestID: String
        /// The event's JSON.
        package var json: [UInt8]
        /// Attempts made before this one.
        package var attempts: Int
        /// True when an earlier attempt was cut short (its lease expired unfinished).
        package var inDoubt: Bool
    }

    /// Opens (creating and migrating) the spool at `configuration.path`.
    package init(configuration: SpoolConfiguration, handlerNames: [String]) throws {
        self.configuration = configuration
        self.handlerNames = handlerNames
        // FULL: the WAL is synced at every commit, so a committed event survives power loss.
        database = try SQLiteFile.open(configuration.path, durability: .full, migrator: Self.migrator)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE events (
                  id INTEGER PRIMARY KEY,
                  dedup_key TEXT UNIQUE,         -- SHA-256 of the transaction id: never a raw value
                  transaction_id TEXT,
                  request_id TEXT NOT NULL,
                  received_at INTEGER NOT NULL,  -- Unix milliseconds
                  json TEXT NOT NULL             -- the event's JSON line, kept as the bytes written (a BLOB)
                );
                CREATE TABLE deliveries (
                  event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
                  handler TEXT NOT NULL,
                  state TEXT NOT NULL,
                  attempts INTEGER NOT NULL DEFAULT 0,
                  next_attempt_at INTEGER NOT NULL,
                  lease_until INTEGER NOT NULL DEFAULT 0,
                  lease_owner TEXT,
                  last_error TEXT,
                  updated_at INTEGER NOT NULL,
                  PRIMARY KEY (event_id, handler)
                ) WITHOUT ROWID;
                CREATE INDEX deliveries_due ON deliveries(handler, state, next_attempt_at);
                CREATE INDEX events_received ON events(received_at);
                """)
        }
        migrator.registerMigration("v2") { db in
            // Leases moved from the wall clock to `Clock.leaseMilliseconds`, and record when
            // they were taken. A lease written before (wall-clock, `lease_from` 0) spans far
            // more than `maxLease`, so it holds nothing.
            try db.execute(sql: "ALTER TABLE deliveries ADD COLUMN lease_from INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v3") { db in
            // Per-contact order: a delivery waits while an earlier one of the same contact to
            // the same handler is pending or failing. Rows from before carry no key and are
            // not held (`claim`). The partial index holds just the deliveries that can hold
            // others up, so the check is one probe.
            try db.execute(sql: """
                ALTER TABLE deliveries ADD COLUMN contact_key TEXT;
                CREATE INDEX deliveries_contact_open ON deliveries(handler, contact_key, event_id)
                  WHERE contact_key IS NOT NULL AND state IN ('pending', 'failed');
                """)
        }
        migrator.registerMigration("v4") { db in
            // Each handler's pace, shared by every thread and process: its `rate:` bucket and
            // a pause a backend asked for (429 with Retry-After). See `claim`.
            try db.execute(sql: """
                CREATE TABLE handler_pace (
                  handler TEXT PRIMARY KEY,
                  tokens REAL NOT NULL,                   -- the rate's bucket (DeliveryRate) at refilled_at
                  refilled_at INTEGER NOT NULL,           -- Unix ms
                  paused_until INTEGER NOT NULL DEFAULT 0 -- Unix ms: nothing is claimed before it
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v5") { db in
            // The console (docs/console.md): events are found by email, transaction id and
            // contact without reading their JSON, newest first, by keyset (received_at, id);
            // its sessions and failed logins live here, shared by FastCGI threads and CGI
            // processes alike. Session ids are stored as SHA-256 only.
            try db.execute(sql: """
                ALTER TABLE events ADD COLUMN email TEXT;
                ALTER TABLE events ADD COLUMN contact_key TEXT;
                UPDATE events SET
                  email = NULLIF(lower(trim(json_extract(CAST(json AS TEXT), '$.contact.email'), char(32, 9, 13, 10))), ''),
                  contact_key = (SELECT contact_key FROM deliveries d WHERE d.event_id = events.id AND contact_key IS NOT NULL LIMIT 1)
                  WHERE json_valid(CAST(json AS TEXT));
                CREATE INDEX events_email ON events(email, received_at) WHERE email IS NOT NULL;
                CREATE INDEX events_transaction ON events(transaction_id, received_at) WHERE transaction_id IS NOT NULL;
                CREATE INDEX events_contact ON events(contact_key, received_at) WHERE contact_key IS NOT NULL;
                CREATE TABLE console_sessions (
                  id_hash TEXT PRIMARY KEY,            -- SHA-256 of the cookie's token, hex
                  user TEXT NOT NULL,
                  csrf TEXT NOT NULL,                  -- the token every POST form carries
                  created_at INTEGER NOT NULL,         -- Unix ms
                  seen_at INTEGER NOT NULL             -- Unix ms, refreshed at most once a minute
                ) WITHOUT ROWID;
                CREATE TABLE console_failures (
                  subject TEXT NOT NULL,               -- 'addr:' + client address or 'user:' + name
                  at INTEGER NOT NULL                  -- Unix ms
                );
                CREATE INDEX console_failures_subject ON console_failures(subject, at);
                """)
        }
        migrator.registerMigration("v6") { db in
            // A session remembers the SHA-256 of its user's hash at login, so a new password
            // ends it (`ConsoleSessions.find`). Sessions from before have none and end.
            try db.execute(sql: "ALTER TABLE console_sessions ADD COLUMN credential TEXT NOT NULL DEFAULT ''")
        }
        return migrator
    }

    /// `next_attempt_at` of a delivery stored behind an open delivery of its contact
    /// (9999-12-31T23:59:59Z): it sorts after every due delivery, so a claim never scans
    /// through a contact's waiting events (thousands of them would make each claim slower by
    /// as many probes), and `complete` sets it due when the delivery ahead ends. `notHeldUp`
    /// still decides; parking only keeps the waiting ones out of the claim's way.
    static let parked: Int64 = 253_402_300_799_000

    /// The SQL condition "no earlier delivery of the same contact to the same handler is
    /// pending or failed" for delivery `d` (see `claim`); its terms match the partial index
    /// `deliveries_contact_open`, so SQLite probes that index.
    static let notHeldUp = """
        (d.contact_key IS NULL OR NOT EXISTS (
          SELECT 1 FROM deliveries p WHERE p.handler = d.handler AND p.contact_key = d.contact_key
          AND p.event_id < d.event_id AND p.contact_key IS NOT NULL AND p.state IN ('pending', 'failed')))
        """

    /// The SQL condition "the delivery's lease is held" at the lease-clock time bound to its
    /// one `?`: taken no later than now, not yet ended, and no longer than `maxLease` (see
    /// `Clock.leaseMilliseconds` for why all three).
    private static let leaseHeld = "(? BETWEEN d.lease_from AND d.lease_until - 1 AND d.lease_until - d.lease_from <= \(SpoolConfiguration.maxLease))"

    /// The dedup key for a transaction id: its SHA-256, hex, as the SQL handlers key rows
    /// (a raw value never becomes a key).
    package static func dedupKey(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return SQLKey.hash(value)
    }

    /// The key a contact's deliveries are ordered by: its platform id as sent, else its
    /// email (trimmed, lowercased), hashed as the SQL handlers key a contact (`SQLKey`); nil
    /// when the event names neither. Events of one person sent once with the id and once
    /// with the email alone have two keys, and are not ordered against each other.
    package static func contactKey(id: String?, email: String?) -> String? {
        if let id, !SQLKey.trimmed(id).isEmpty { return SQLKey.contact(id: id) }
        if let email, !SQLKey.trimmed(email).isEmpty { return SQLKey.contact(email: email) }
        return nil
    }

    /// An email as the console searches for it (`events.email`): trimmed and lowercased as
    /// the SQL handlers compare emails; nil when blank.
    package static func searchEmail(_ email: String?) -> String? {
        guard let email else { return nil }
        let normalized = SQLKey.normalized(email: email)
        return normalized.isEmpty ? nil : normalized
    }

    // MARK: - Accepting

    // The statements below run for every event: they go through the connection's statement
    // cache, so each is prepared (GRDB's authorizer included) once per connection, not per event.

    /// Stores `items` in one transaction (one fsync for all: group commit).
    package func store(_ items: [Item], now: Int64 = Clock.milliseconds()) throws -> [StoreOutcome] {
        try database.write { db in
            var outcomes: [StoreOutcome] = []
            outcomes.reserveCapacity(items.count)
            let windowStart = now - configuration.dedupWindow
            for item in items {
                if let key = item.dedupKey,
                   let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT id, received_at FROM events WHERE dedup_key = ?"), arguments: [key]) {
                    let id: Int64 = row["id"]
                    let receivedAt: Int64 = row["received_at"]
                    if receivedAt >= windowStart {
                        outcomes.append(.duplicate(id))
                        continue
                    }
                    // Outside the window: the old event no longer claims the key.
                    try db.cachedStatement(sql: "UPDATE events SET dedup_key = NULL WHERE id = ?").execute(arguments: [id])
                }
                try db.cachedStatement(sql: "INSERT INTO events (dedup_key, transaction_id, request_id, received_at, json, email, contact_key) VALUES (?, ?, ?, ?, ?, ?, ?)").execute(
                    arguments: [item.dedupKey, item.transactionID, item.requestID, now, Data(item.json), item.email, item.contactKey])
                let id = db.lastInsertedRowID
                for handler in handlerNames {
                    // Behind an open delivery of the same contact: parked until that one ends.
                    var due = now
                    if let key = item.contactKey, try Bool.fetchOne(db.cachedStatement(sql: """
                        SELECT 1 FROM deliveries WHERE handler = ? AND contact_key = ? AND contact_key IS NOT NULL AND state IN ('pending', 'failed') LIMIT 1
                        """), arguments: [handler, key]) != nil {
                        due = Self.parked
                    }
                    try db.cachedStatement(sql: "INSERT INTO deliveries (event_id, handler, state, next_attempt_at, updated_at, contact_key) VALUES (?, ?, 'pending', ?, ?, ?)").execute(
                        arguments: [id, handler, due, now, item.contactKey])
                }
                outcomes.append(.stored(id))
            }
            return outcomes
        }
    }

    /// Closes the database. The last connection to close checkpoints the WAL into the
    /// file and removes it (sqlite.org/wal.html), so a CGI process leaves the spool whole
    /// and the next one has nothing to replay.
    package func close() {
        try? database.close()
    }

    // MARK: - Delivering

    /// Claims up to `limit` due deliveries for `handler` whose lease is not held, with a
    /// lease in the name of `owner`: a name for this claim alone (a later claim by the same
    /// process takes another), which `renewLease`, `release` and `complete` must give.
    ///
    /// A contact's deliveries go in the order its events were received: one is not claimed
    /// while an earlier delivery of the same contact to this handler is pending (leased or
    /// not) or failed, so a claim holds at most one per contact, and an event retried later
    /// never overwrites a newer one in the CRM. Other contacts do not wait. A dead letter
    /// no longer holds its contact up: the events behind it go on (README, "Delivering to
    /// a CRM"); retried by hand, it is delivered after them.
    ///
    /// The handler's pace limits the claim: nothing while a backend's pause runs
    /// (`complete` records one from a `Retry-After`), and with a `rate`, no more than the
    /// whole tokens its bucket holds, which the claim takes in the same transaction.
    ///
    /// `leaseNow` (given by tests) is read once the write lock is ours: a reading taken
    /// before waiting for it could be older than the start of a lease another process took
    /// meanwhile, which would look taken before a reboot and be claimed a second time.
    package func claim(
        handler: String, owner: String, limit: Int, now: Int64 = Clock.milliseconds(), leaseNow: Int64? = nil,
        only eventIDs: [Int64]? = nil, rate: DeliveryRate? = nil
    ) throws -> [Claim] {
        try database.write { db in
            let pace = try Self.pace(of: handler, in: db, now: now)
            if let pace, pace.pausedUntil > now { return [] }
            var limit = limit
            var tokens: Double? = nil
            if let rate {
                let available = pace.map { rate.tokens($0.tokens, refilledAt: $0.refilledAt, now: now) } ?? DeliveryRate.capacity
                limit = min(limit, Int(available))
                if limit <= 0 { return [] }
                tokens = available
            }
            let leaseNow = leaseNow ?? Clock.leaseMilliseconds()
            var sql = """
                SELECT d.event_id, d.attempts, d.lease_owner, e.request_id, e.json FROM deliveries d JOIN events e ON e.id = d.event_id
                WHERE d.handler = ? AND d.state IN ('pending', 'failed') AND d.next_attempt_at <= ? AND NOT \(Self.leaseHeld)
                AND \(Self.notHeldUp)
                """
            var arguments: StatementArguments = [handler, now, leaseNow]
            if let eventIDs {
                sql += " AND d.event_id IN (\(Self.placeholders(eventIDs.count)))"
                arguments += StatementArguments(eventIDs)
            }
            sql += " ORDER BY d.next_attempt_at, d.event_id LIMIT ?"
            arguments += [limit]
            let rows = try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments)
            var claims: [Claim] = []
            for row in rows {
                let id: Int64 = row["event_id"]
                let previousOwner: String? = row["lease_owner"]
                try db.cachedStatement(sql: "UPDATE deliveries SET lease_from = ?, lease_until = ?, lease_owner = ?, updated_at = ? WHERE event_id = ? AND handler = ?").execute(
                    arguments: [leaseNow, leaseNow + configuration.lease, owner, now, id, handler])
                // The bytes as written; a spool from before they were kept so holds TEXT, read alike.
                let json = try row.withUnsafeData(named: "json") { data in data.map(Array.init) } ?? []
                let attempts: Int = row["attempts"]
                // In doubt: an attempt was cut short (its lease ran out unfinished), or one
                // failed, which may have stored it first (a program killed after writing).
                claims.append(Claim(
                    eventID: id, requestID: (row["request_id"] as String?) ?? "", json: json, attempts: attempts,
                    inDoubt: previousOwner != nil || attempts > 0))
            }
            if let tokens, !claims.isEmpty {
                try db.cachedStatement(sql: """
                    INSERT INTO handler_pace (handler, tokens, refilled_at) VALUES (?, ?, ?)
                    ON CONFLICT (handler) DO UPDATE SET tokens = excluded.tokens, refilled_at = excluded.refilled_at
                    """).execute(arguments: [handler, tokens - Double(claims.count), now])
            }
            return claims
        }
    }

    /// A handler's row of `handler_pace`.
    private struct Pace {
        var tokens: Double
        var refilledAt: Int64
        var pausedUntil: Int64
    }

    /// The handler's pace at `now`, so that no step of the wall clock stops a handler: a
    /// pause ending further ahead than `maxPause` (recording caps it at that) was recorded
    /// while the clock ran ahead, and holds nothing; a bucket refilled "in the future" (the
    /// clock went back) counts as refilled now, holding one token: one delivery, then the pace.
    private static func pace(of handler: String, in db: Database, now: Int64) throws -> Pace? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT tokens, refilled_at, paused_until FROM handler_pace WHERE handler = ?"), arguments: [handler])
            .map { row in
                let refilledAt: Int64 = row["refilled_at"]
                let pausedUntil: Int64 = row["paused_until"]
                let tokens: Double = refilledAt > now ? DeliveryRate.capacity : row["tokens"]
                return Pace(tokens: tokens, refilledAt: min(refilledAt, now), pausedUntil: pausedUntil > now + maxPause ? 0 : pausedUntil)
            }
    }

    /// Extends the lease of claim `owner` on `eventIDs` to one lease period from `leaseNow`,
    /// so a batch that takes longer than one lease isn't claimed again by another process
    /// meanwhile. Returns how many it renewed: fewer than `eventIDs` means the rest are no
    /// longer this claim's (another process took them over once the lease had run out).
    package func renewLease(handler: String, owner: String, eventIDs: [Int64], leaseNow: Int64 = Clock.leaseMilliseconds()) throws -> Int {
        guard !eventIDs.isEmpty else { return 0 }
        return try database.write { db in
            var arguments: StatementArguments = [leaseNow, leaseNow + configuration.lease, handler, owner]
            arguments += StatementArguments(eventIDs)
            try db.execute(sql: "UPDATE deliveries SET lease_from = ?, lease_until = ? WHERE handler = ? AND lease_owner = ? AND event_id IN (\(Self.placeholders(eventIDs.count)))",
                           arguments: arguments)
            return db.changesCount
        }
    }

    /// Ends the lease of claim `owner` on `eventIDs` without an attempt, so another claim may
    /// take them at once. The owner stays recorded: the next claim treats them as in doubt,
    /// as it would have had the lease run out (an earlier claim may have been cut short).
    func release(handler: String, owner: String, eventIDs: [Int64]) throws {
        guard !eventIDs.isEmpty else { return }
        try database.write { db in
            var arguments: StatementArguments = [handler, owner]
            arguments += StatementArguments(eventIDs)
            try db.execute(sql: "UPDATE deliveries SET lease_until = 0 WHERE handler = ? AND lease_owner = ? AND event_id IN (\(Self.placeholders(eventIDs.count)))",
                           arguments: arguments)
        }
    }

    /// `?,?,…`: one placeholder per value of an `IN (…)` list.
    private static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ",")
    }

    /// The outcome of one attempt.
    package enum AttemptResult: Sendable {
        /// The handler stored the event.
        case delivered
        /// The handler failed; `permanent` skips the remaining retries, `retryAfter` (ms)
        /// lengthens the wait when the backend asked for it (and pauses the handler).
        case failed(String, permanent: Bool, retryAfter: Int64? = nil)
        /// The handler did not try (the backend asked it to wait): no attempt is counted,
        /// and the delivery is in doubt next time only if this claim's was (`inDoubt`).
        case notAttempted(inDoubt: Bool)
    }

    /// The longest a backend's pause holds a handler (the http handler caps what a backend
    /// asks for at the same).
    static let maxPause: Int64 = 3_600_000

    /// Records the outcome of claim `owner`'s attempts: delivered, failed (retry on the
    /// schedule) or dead. Only deliveries the claim still holds change: returns the others,
    /// which another process took over after this claim's lease ran out, and whose outcome
    /// is that process's to record. (The check is part of each UPDATE: `changes()` tells.)
    ///
    /// Its commit is not synced (`synchronous=NORMAL` for this one transaction): the claim
    /// that took the lease was, so an outcome lost to a power cut leaves a delivery whose
    /// lease ran out, which the next claim delivers again flagged in doubt, never a lost or
    /// unflagged one. The next synced commit (an event stored) writes it to disk with its
    /// own, as the WAL is one file appended in order (sqlite.org/wal.html). On a disk whose
    /// flush costs milliseconds this was one of the three syncs per batch (BENCHMARKS.md).
    package func complete(
        handler: String, owner: String, results: [(eventID: Int64, attempts: Int, result: AttemptResult)], now: Int64 = Clock.milliseconds()
    ) throws -> [Int64] {
        try database.writeWithoutTransaction { db in
            try db.cachedStatement(sql: "PRAGMA synchronous = NORMAL").execute()
            let lost: Result<[Int64], any Error> = Result { try recordOutcomes(db, handler: handler, owner: owner, results: results, now: now) }
            // Back to FULL before anything else runs on this connection: every event's commit
            // must be synced before its 200.
            try db.cachedStatement(sql: "PRAGMA synchronous = FULL").execute()
            return try lost.get()
        }
    }

    /// `complete`'s transaction.
    private func recordOutcomes(
        _ db: Database, handler: String, owner: String, results: [(eventID: Int64, attempts: Int, result: AttemptResult)], now: Int64
    ) throws -> [Int64] {
        var lost: [Int64] = []
        try db.inTransaction(.immediate) {
            for (eventID, attempts, result) in results {
                // Delivered or dead: the delivery is over, and its contact's next may go.
                var ended = true
                switch result {
                case .delivered:
                    try db.cachedStatement(sql: "UPDATE deliveries SET state = 'delivered', attempts = ?, lease_until = 0, lease_owner = NULL, last_error = NULL, updated_at = ? WHERE event_id = ? AND handler = ? AND lease_owner = ?").execute(
                        arguments: [attempts + 1, now, eventID, handler, owner])
                case .failed(let error, let permanent, let retryAfter):
                    let delay = permanent ? nil : configuration.retry.delay(afterAttempts: attempts + 1).map { max($0, retryAfter ?? 0) }
                    let state: DeliveryState = delay == nil ? .dead : .failed
                    ended = state == .dead
                    try db.cachedStatement(sql: "UPDATE deliveries SET state = ?, attempts = ?, next_attempt_at = ?, lease_until = 0, lease_owner = NULL, last_error = ?, updated_at = ? WHERE event_id = ? AND handler = ? AND lease_owner = ?").execute(
                        arguments: [state.rawValue, attempts + 1, now + (delay ?? 0), String(error.prefix(2000)), now, eventID, handler, owner])
                case .notAttempted(let inDoubt):
                    ended = false
                    // The lease ends; the owner stays only to keep an earlier doubt.
                    try db.cachedStatement(sql: "UPDATE deliveries SET lease_until = 0, lease_owner = CASE WHEN ? THEN lease_owner ELSE NULL END, updated_at = ? WHERE event_id = ? AND handler = ? AND lease_owner = ?").execute(
                        arguments: [inDoubt, now, eventID, handler, owner])
                }
                if db.changesCount == 0 {
                    lost.append(eventID)
                } else if ended {
                    // The contact's next waiting delivery to this handler is due now.
                    try db.cachedStatement(sql: """
                        UPDATE deliveries SET next_attempt_at = ? WHERE handler = ? AND next_attempt_at = ? AND event_id = (
                          SELECT MIN(p.event_id) FROM deliveries p WHERE p.handler = ? AND p.contact_key IS NOT NULL
                          AND p.contact_key = (SELECT contact_key FROM deliveries WHERE event_id = ? AND handler = ?)
                          AND p.state IN ('pending', 'failed'))
                        """).execute(arguments: [now, handler, Self.parked, handler, eventID, handler])
                }
            }
            // A backend that asked to wait (429 or 503 with Retry-After) is asked nothing until
            // then, for any event: one event's wait would not slow the others down.
            let pause = results.compactMap { result -> Int64? in
                if case .failed(_, false, let retryAfter?) = result.result, retryAfter > 0 { return retryAfter }
                return nil
            }.max()
            if let pause {
                try db.cachedStatement(sql: """
                    INSERT INTO handler_pace (handler, tokens, refilled_at, paused_until) VALUES (?, 0, ?, ?)
                    ON CONFLICT (handler) DO UPDATE SET paused_until = MAX(paused_until, excluded.paused_until)
                    """).execute(arguments: [handler, now, now + min(pause, Self.maxPause)])
            }
            return .commit
        }
        return lost
    }

    /// When the next delivery for `handler` falls due (Unix ms), or nil when none is waiting:
    /// its next attempt, or the end of the lease that holds it if that is later. A delivery
    /// held up behind an earlier one of its contact does not count: the earlier one does.
    /// The handler's pace can make it later: a backend's pause, or the next token of `rate`. The clocks
    /// (given by tests) are read inside the read transaction, as `claim` reads them.
    package func nextDue(handler: String, now: Int64? = nil, leaseNow: Int64? = nil, rate: DeliveryRate? = nil) throws -> Int64? {
        try database.read { db in
            let leaseNow = leaseNow ?? Clock.leaseMilliseconds()
            let now = now ?? Clock.milliseconds()
            guard var due = try Int64.fetchOne(db.cachedStatement(sql: """
                SELECT MIN(CASE WHEN \(Self.leaseHeld) THEN MAX(d.next_attempt_at, ? + d.lease_until - ?) ELSE d.next_attempt_at END)
                FROM deliveries d WHERE d.handler = ? AND d.state IN ('pending', 'failed') AND \(Self.notHeldUp)
                """), arguments: [leaseNow, now, leaseNow, handler]) else { return nil }
            guard let pace = try Self.pace(of: handler, in: db, now: now) else { return due }
            due = max(due, pace.pausedUntil)
            if let rate {
                let tokens = rate.tokens(pace.tokens, refilledAt: pace.refilledAt, now: now)
                due = max(due, rate.nextToken(tokens, refilledAt: now))
            }
            return due
        }
    }

    // MARK: - Operating

    /// Counts of deliveries by handler and state.
    package func status() throws -> SpoolCounts {
        SpoolCounts(try database.read { db in
            try Row.fetchAll(db, sql: "SELECT handler, state, COUNT(*) AS n FROM deliveries GROUP BY handler, state ORDER BY handler, state").compactMap { row in
                guard let state = DeliveryState(rawValue: row["state"]) else { return nil }
                return (row["handler"], state, row["n"])
            }
        })
    }

    /// One row of `spool list`.
    package struct Entry: Sendable {
        /// The spool id.
        package var eventID: Int64
        /// The handler.
        package var handler: String
        /// The state.
        package var state: DeliveryState
        /// Attempts made.
        package var attempts: Int
        /// The last error, if any.
        package var lastError: String?
        /// The transaction id.
        package var transactionID: String?
        /// When it was received (Unix ms).
        package var receivedAt: Int64
        /// When the next attempt falls due (Unix ms); `Spool.parked` while it waits for an
        /// earlier event of its contact.
        package var nextAttemptAt: Int64
        /// The contact's email as the console searches it (nil for events from before v5).
        package var email: String?
    }

    /// Deliveries, newest first, filtered by state, handler and event, and below event id
    /// `before` (the console's next page).
    package func list(state: DeliveryState? = nil, handler: String? = nil, eventID: Int64? = nil, before: Int64? = nil, limit: Int = 100) throws -> [Entry] {
        try database.read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let state { conditions.append("d.state = ?"); arguments += [state.rawValue] }
            if let handler { conditions.append("d.handler = ?"); arguments += [handler] }
            if let eventID { conditions.append("d.event_id = ?"); arguments += [eventID] }
            if let before { conditions.append("d.event_id < ?"); arguments += [before] }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            arguments += [limit]
            return try Row.fetchAll(db, sql: """
                SELECT d.event_id, d.handler, d.state, d.attempts, d.last_error, d.next_attempt_at, e.transaction_id, e.received_at, e.email
                FROM deliveries d JOIN events e ON e.id = d.event_id \(filter)
                ORDER BY d.event_id DESC, d.handler LIMIT ?
                """, arguments: arguments).map { row in
                Entry(eventID: row["event_id"], handler: row["handler"], state: DeliveryState(rawValue: row["state"]) ?? .pending,
                      attempts: row["attempts"], lastError: row["last_error"], transactionID: row["transaction_id"],
                      receivedAt: row["received_at"], nextAttemptAt: row["next_attempt_at"], email: row["email"])
            }
        }
    }

    /// The stored JSON of event `id`, if it is in the spool.
    package func eventJSON(id: Int64) throws -> String? {
        try database.read { db in try String.fetchOne(db.cachedStatement(sql: "SELECT json FROM events WHERE id = ?"), arguments: [id]) }
    }

    /// Puts dead (or failed) deliveries back in line now; returns how many.
    package func retry(eventID: Int64?, handler: String?, now: Int64 = Clock.milliseconds()) throws -> Int {
        try database.write { db in
            var conditions = eventID == nil ? ["state = 'dead'"] : ["state IN ('dead', 'failed')", "event_id = ?"]
            var arguments: StatementArguments = [now, now]
            if let eventID { arguments += [eventID] }
            if let handler { conditions.append("handler = ?"); arguments += [handler] }
            try db.execute(sql: """
                UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?, lease_until = 0, lease_owner = NULL, updated_at = ?
                WHERE \(conditions.joined(separator: " AND "))
                """, arguments: arguments)
            return db.changesCount
        }
    }

    /// Sets due every parked delivery of `handler` that no open delivery of its contact is
    /// ahead of any more (none should be: `complete` wakes the next one; this is the safety
    /// net, run when a dispatcher starts and every hour). Returns how many it woke. A read
    /// comes first, so that nothing is written (and synced) when there is nothing to do.
    @discardableResult
    package func wakeParked(handler: String, now: Int64 = Clock.milliseconds()) throws -> Int {
        let orphans = """
            d.handler = ? AND d.state = 'pending' AND d.next_attempt_at = ? AND \(Self.notHeldUp)
            """
        let found = try database.read { db in
            try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM deliveries d WHERE \(orphans) LIMIT 1"), arguments: [handler, Self.parked]) != nil
        }
        guard found else { return 0 }
        return try database.write { db in
            try db.execute(sql: """
                UPDATE deliveries SET next_attempt_at = ? WHERE (event_id, handler) IN (SELECT d.event_id, d.handler FROM deliveries d WHERE \(orphans))
                """, arguments: [now, handler, Self.parked])
            return db.changesCount
        }
    }

    /// Deletes events received before `cutoff` whose every delivery is delivered; returns how many.
    package func purgeDelivered(receivedBefore cutoff: Int64) throws -> Int {
        try database.write { db in
            try db.execute(sql: """
                DELETE FROM events WHERE received_at < ?
                AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.state != 'delivered')
                """, arguments: [cutoff])
            let count = db.changesCount
            try db.execute(sql: "DELETE FROM deliveries WHERE event_id NOT IN (SELECT id FROM events)")
            return count
        }
    }
}
