import Foundation
@preconcurrency import GRDB
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerSQL

/// What the SQL handlers stored, read with one normalizing query per table: explicit
/// columns, every value as text, rows sorted. The same events must give equal snapshots in
/// SQLite, PostgreSQL and MariaDB.
struct DatabaseSnapshot: Equatable, CustomStringConvertible {
    /// Table name → its rows, sorted.
    var tables: [String: [[String?]]]

    /// One query per table of the schema (the schema's own bookkeeping left out).
    static let queries: [(table: String, sql: String)] = [
        ("events", "SELECT event_key, transaction_id, request_id, contact_key, received_at, json FROM events"),
        ("contacts", "SELECT contact_key, contact_id, email, email_hash, phone, profile_url, first_seen_at, last_seen_at, last_event_key, email_version, phone_version, profile_url_version FROM contacts"),
        ("contact_fields", "SELECT contact_key, field_key, field_id, field_name, value, updated_at, event_key FROM contact_fields"),
        ("contact_field_observations", "SELECT contact_key, field_key, event_key, observed_at FROM contact_field_observations"),
        ("contact_field_history", "SELECT event_key, field_key, contact_key, field_id, field_name, old_value, new_value, changed_at FROM contact_field_history"),
        ("campaigns_opened", "SELECT event_key, position, contact_key, received_at, campaign_id, campaign_name, opened_at FROM campaigns_opened"),
        ("links_clicked", "SELECT event_key, position, contact_key, received_at, url, clicks FROM links_clicked"),
        ("pages_visited", "SELECT event_key, position, contact_key, received_at, page, visited_at FROM pages_visited"),
        ("automations_triggered", "SELECT event_key, position, contact_key, received_at, automation_id, automation_name, triggered_at FROM automations_triggered"),
        ("goals_reached", "SELECT event_key, position, contact_key, received_at, goal_id, goal_name, reached_at FROM goals_reached"),
        ("webhooks_triggered", "SELECT event_key, position, contact_key, received_at, webhook_id, webhook_name, triggered_at FROM webhooks_triggered"),
        ("lead_scores", "SELECT event_key, position, contact_key, received_at, score_id, score_name, score, scored_at FROM lead_scores"),
        ("lead_statuses", "SELECT event_key, position, contact_key, received_at, score, label FROM lead_statuses"),
    ]

    /// Reads every table through `session`.
    static func read(_ session: some SQLSession) throws -> DatabaseSnapshot {
        var tables: [String: [[String?]]] = [:]
        for (table, sql) in queries {
            tables[table] = try session.query(sql, []).sorted { $0.lexicographicallyPrecedes($1) { ($0 ?? "") < ($1 ?? "") } }
        }
        return DatabaseSnapshot(tables: tables)
    }

    /// Reads the SQLite database at `path`.
    static func read(sqlitePath path: String) throws -> DatabaseSnapshot {
        let database = try DatabaseQueue(path: path)
        defer { try? database.close() }
        return try database.read { db in try read(SQLiteSession(database: db)) }
    }

    /// Reads the database of a running server.
    static func read(_ server: DatabaseServer) throws -> DatabaseSnapshot {
        try withConnection(server) { try read($0) }
    }

    /// Runs `body` on a fresh connection to `server` (the handlers' own connection code).
    static func withConnection<T>(_ server: DatabaseServer, _ body: (any SQLConnection) throws -> T) throws -> T {
        let scheme = server.kind == .postgres ? ["postgres"] : ["mysql"]
        let options = SQLServerOptions(url: try DatabaseURL(server.url, schemes: scheme, defaultPort: 0))
        let connection: any SQLConnection = server.kind == .postgres
            ? try PostgresSession.connect(options) : try MariaDBConnection.connect(options)
        defer { connection.close() }
        return try body(connection)
    }

    /// The number of rows in `table`.
    func count(_ table: String) -> Int { tables[table]?.count ?? 0 }

    /// The values of `column` (by position in the table's query) over all rows.
    func column(_ table: String, _ index: Int) -> [String?] {
        (tables[table] ?? []).map { index < $0.count ? $0[index] : nil }
    }

    /// Row counts per table, for messages.
    var description: String {
        Self.queries.map { "\($0.table)=\(count($0.table))" }.joined(separator: " ")
    }

    /// The tables whose rows differ from `other`'s, with the first differing row of each.
    func differences(from other: DatabaseSnapshot) -> String {
        var lines: [String] = []
        for (table, _) in Self.queries where tables[table] != other.tables[table] {
            let mine = tables[table] ?? [], theirs = other.tables[table] ?? []
            let index = (0..<min(mine.count, theirs.count)).first { mine[$0] != theirs[$0] } ?? min(mine.count, theirs.count)
            func show(_ rows: [[String?]]) -> String {
                index < rows.count ? rows[index].map { ($0 ?? "NULL").prefix(80) }.joined(separator: " | ") : "(no row)"
            }
            lines.append("\(table): \(mine.count) vs \(theirs.count) rows; first difference at row \(index):\n  \(show(mine))\n  \(show(theirs))")
        }
        return lines.joined(separator: "\n")
    }
}
