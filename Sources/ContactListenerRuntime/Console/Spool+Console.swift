import ContactListenerKit
@preconcurrency import GRDB

/// What the console reads from and does to the spool. Every list is newest first and
/// paged by keyset, `(received_at, id)` below the last row shown, through an index (no
/// `OFFSET`, no sort), so a page costs the same with 100,000 events as with 10
/// (docs/console.md, "Pages"; `SpoolConsoleTests` checks the query plans).
extension Spool {
    /// One event as the console lists it.
    struct ConsoleEvent: Sendable {
        /// The spool id.
        var id: Int64
        /// When it was received (Unix ms).
        var receivedAt: Int64
        /// The transaction id.
        var transactionID: String?
        /// The contact's email, trimmed and lowercased.
        var email: String?
        /// The contact's key (`Spool.contactKey`).
        var contactKey: String?
        /// Each handler's delivery state, by handler name.
        var states: [(handler: String, state: DeliveryState)] = []
    }

    /// A place in a newest-first list: the last row shown.
    struct Cursor: Sendable, Equatable {
        /// Its `received_at`.
        var receivedAt: Int64
        /// Its id.
        var id: Int64

        /// `received_at.id`, as the "older" link carries it.
        var text: String { "\(receivedAt).\(id)" }

        /// Reads `text`; nil for anything else.
        init?(_ text: String) {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, let receivedAt = Int64(parts[0]), let id = Int64(parts[1]) else { return nil }
            self.receivedAt = receivedAt
            self.id = id
        }

        /// The cursor after `event`.
        init(after event: ConsoleEvent) {
            receivedAt = event.receivedAt
            id = event.id
        }
    }

    /// What the events page filters by; nil matches everything.
    struct EventFilter: Sendable, Equatable {
        /// The contact's email (normalized by `searchEmail`).
        var email: String?
        /// The transaction id, exactly.
        var transactionID: String?
        /// The contact's key.
        var contactKey: String?
        /// Received at or after (Unix ms).
        var from: Int64?
        /// Received before (Unix ms).
        var to: Int64?
    }

    /// The SQL and arguments of a newest-first page of events.
    static func eventsQuery(_ filter: EventFilter, before: Cursor?, limit: Int) -> (sql: String, arguments: StatementArguments) {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let email = filter.email { conditions.append("email = ?"); arguments += [email] }
        if let transactionID = filter.transactionID { conditions.append("transaction_id = ?"); arguments += [transactionID] }
        if let contactKey = filter.contactKey { conditions.append("contact_key = ?"); arguments += [contactKey] }
        if let from = filter.from { conditions.append("received_at >= ?"); arguments += [from] }
        if let to = filter.to { conditions.append("received_at < ?"); arguments += [to] }
        if let before {
            conditions.append("(received_at < ? OR (received_at = ? AND id < ?))")
            arguments += [before.receivedAt, before.receivedAt, before.id]
        }
        arguments += [limit]
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return ("""
            SELECT id, received_at, transaction_id, email, contact_key FROM events \(filter)
            ORDER BY received_at DESC, id DESC LIMIT ?
            """, arguments)
    }

    /// Up to `limit` events matching `filter`, newest first, below `before`, each with its
    /// deliveries' states.
    func consoleEvents(_ filter: EventFilter, before: Cursor?, limit: Int) throws -> [ConsoleEvent] {
        let query = Self.eventsQuery(filter, before: before, limit: limit)
        return try database.read { db in
            var events = try Row.fetchAll(db, sql: query.sql, arguments: query.arguments).map(ConsoleEvent.init(row:))
            let states = try db.cachedStatement(sql: "SELECT handler, state FROM deliveries WHERE event_id = ? ORDER BY handler")
            for index in events.indices {
                events[index].states = try Row.fetchAll(states, arguments: [events[index].id]).compactMap { row in
                    DeliveryState(rawValue: row["state"]).map { (handler: row["handler"], state: $0) }
                }
            }
            return events
        }
    }

    /// Event `id` as listed, with its JSON; nil when it is not in the spool.
    func consoleEvent(id: Int64) throws -> (event: ConsoleEvent, json: String)? {
        try database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT id, received_at, transaction_id, email, contact_key, json FROM events WHERE id = ?", arguments: [id]) else {
                return nil
            }
            return (ConsoleEvent(row: row), row["json"])
        }
    }

    /// The event a pending or failed delivery waits behind: the earliest open delivery of
    /// the same contact to the same handler (per-contact order); nil when it waits for
    /// nobody.
    func heldBy(_ delivery: Entry, contactKey: String?) throws -> Int64? {
        guard let contactKey, delivery.state == .pending || delivery.state == .failed else { return nil }
        return try database.read { db in
            try Int64.fetchOne(db, sql: """
                SELECT MIN(event_id) FROM deliveries WHERE handler = ? AND contact_key = ? AND contact_key IS NOT NULL
                AND state IN ('pending', 'failed') AND event_id < ?
                """, arguments: [delivery.handler, contactKey, delivery.eventID])
        }
    }

    /// Puts the dead or failed deliveries of `handler` for `eventIDs` back in line now;
    /// returns how many. One behind an open delivery of its contact still waits for it
    /// (the claim's order check).
    func retry(eventIDs: [Int64], handler: String, now: Int64 = Clock.milliseconds()) throws -> Int {
        var count = 0
        for eventID in eventIDs { count += try retry(eventID: eventID, handler: handler, now: now) }
        return count
    }

    /// Deletes the dead deliveries of `handler` for `eventIDs` (the events stay until
    /// `retention` purges them with their other deliveries); returns how many.
    func purgeDead(eventIDs: [Int64], handler: String) throws -> Int {
        try database.write { db in
            var count = 0
            let delete = try db.cachedStatement(sql: "DELETE FROM deliveries WHERE event_id = ? AND handler = ? AND state = 'dead'")
            for eventID in eventIDs {
                try delete.execute(arguments: [eventID, handler])
                count += db.changesCount
            }
            return count
        }
    }

    /// Each handler's pause (Unix ms it ends), for handlers paused past `now`.
    func pauses(now: Int64 = Clock.milliseconds()) throws -> [String: Int64] {
        try database.read { db in
            var pauses: [String: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT handler, paused_until FROM handler_pace WHERE paused_until > ?", arguments: [now]) {
                pauses[row["handler"]] = row["paused_until"]
            }
            return pauses
        }
    }

    /// How many events the spool holds, and how many arrived since `since`.
    func eventCounts(since: Int64) throws -> (total: Int, recent: Int) {
        try database.read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") ?? 0,
             try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events WHERE received_at >= ?", arguments: [since]) ?? 0)
        }
    }
}

extension Spool.ConsoleEvent {
    /// The event in `row` (columns id, received_at, transaction_id, email, contact_key).
    init(row: Row) {
        self.init(id: row["id"], receivedAt: row["received_at"], transactionID: row["transaction_id"],
                  email: row["email"], contactKey: row["contact_key"])
    }
}
