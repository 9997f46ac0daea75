import ContactListenerKit
@preconcurrency import GRDB

/// A contact's field changes as the console's contact page lists them: from the SQLite
/// handler's `contact_field_history` when one is configured (it keeps them for good, in
/// the order the events were received), else from the events still in the spool.
struct ConsoleFieldHistory: Sendable {
    /// One change of one field.
    struct Change: Sendable, Equatable {
        /// The field's name (its id when it has none).
        var field: String
        /// The value before (nil for the first value seen).
        var old: String?
        /// The value after.
        var new: String?
        /// When (RFC 3339 UTC).
        var at: String
        /// The spool event that brought it, when the console knows it.
        var eventID: Int64?
    }

    /// Where the changes came from, for the page to say.
    let source: String
    /// The changes, newest first.
    let changes: [Change]

    /// The changes of contact `key` in the SQLite database at `path` (opened read-only),
    /// newest first; nil when the file or its table is not there.
    static func fromSQLite(path: String, contactKey key: String, limit: Int = 500) -> ConsoleFieldHistory? {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(2)
        guard let queue = try? DatabaseQueue(path: path, configuration: configuration) else { return nil }
        defer { try? queue.close() }
        let rows = try? queue.read { db in
            try Row.fetchAll(db, sql: """
                SELECT substr(COALESCE(field_name, field_id, '?'), 1, 200) AS field, substr(old_value, 1, 2000) AS old_value,
                  substr(new_value, 1, 2000) AS new_value, changed_at FROM contact_field_history
                WHERE contact_key = ? ORDER BY changed_at DESC, event_key DESC LIMIT ?
                """, arguments: [key, limit])
        }
        guard let rows else { return nil }
        return ConsoleFieldHistory(source: "the SQLite handler's contact_field_history (\(path))", changes: rows.map { row in
            // Optional reads throughout: a table shaped differently must not stop the process.
            Change(field: row["field"] as String? ?? "?", old: row["old_value"], new: row["new_value"],
                   at: row["changed_at"] as String? ?? "", eventID: nil)
        })
    }

    /// The changes across `events` (oldest first, with their stored JSON), newest first.
    static func fromSpool(_ events: [(event: Spool.ConsoleEvent, json: String)]) -> ConsoleFieldHistory {
        var changes: [Change] = []
        var last: [String: String?] = [:]
        for item in events {
            guard let decoded = try? ContactEvent(storedJSON: Array(item.json.utf8)) else { continue }
            for field in decoded.fields {
                let name = field.name ?? field.id ?? "?"
                let key = field.id.map { "id:" + $0 } ?? "name:" + name
                let previous = last[key]
                if let previous, previous == field.value { continue }
                last[key] = field.value
                changes.append(Change(field: name, old: previous ?? nil, new: field.value,
                                      at: Timestamp.format(milliseconds: item.event.receivedAt), eventID: item.event.id))
            }
        }
        return ConsoleFieldHistory(source: "the events in the spool", changes: changes.reversed())
    }
}
