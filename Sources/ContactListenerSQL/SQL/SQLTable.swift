/// A column of the handlers' schema, typed abstractly so that one definition yields the
/// DDL of every dialect.
import ContactListenerKit
struct SQLColumn: Sendable {
    /// What a column holds; `SQLDialect.type(of:)` maps it to a concrete type.
    enum Kind: Sendable {
        /// A SHA-256 hex digest we compute (64 ASCII characters): the only thing keys are built on.
        case key
        /// A value the platform sent, of any length (TEXT / LONGTEXT utf8mb4).
        case text
        /// An RFC 3339 UTC timestamp with milliseconds, as the listener records it
        /// (`2026-03-01T10:00:00.123Z`); fixed width, so text order is time order.
        case stamp
        /// A whole number.
        case integer
        /// An event's place in time: its `received_at` stamp, `/`, its key. Compared as text it
        /// orders events by time, then by key, so every database agrees on which is newer.
        case version
    }

    /// The column's name.
    var name: String
    /// What it holds.
    var kind: Kind
    /// False adds NOT NULL.
    var nullable = true
}

/// A table of the handlers' schema: columns, primary key and secondary indexes.
struct SQLTable: Sendable {
    /// The table's name.
    var name: String
    /// Its columns, in order.
    var columns: [SQLColumn]
    /// The primary key's columns (always keys or positions we produce, never raw values).
    var primaryKey: [String]
    /// Secondary (non-unique) indexes: name and columns.
    var indexes: [(name: String, columns: [String])] = []

    /// The statements that create the table and its indexes, if missing.
    func createStatements(_ dialect: SQLDialect) -> [String] {
        var parts = columns.map { column in
            "\(column.name) \(dialect.type(of: column.kind))\(column.nullable ? "" : " NOT NULL")"
        }
        parts.append("PRIMARY KEY (\(primaryKey.joined(separator: ", ")))")
        switch dialect {
        case .mysql:
            // MySQL has no CREATE INDEX IF NOT EXISTS (MariaDB has): declare them inline.
            parts += indexes.map { "KEY \($0.name) (\($0.columns.joined(separator: ", ")))" }
            return ["CREATE TABLE IF NOT EXISTS \(name) (\(parts.joined(separator: ", "))) "
                    + "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"]
        case .postgres, .sqlite:
            return ["CREATE TABLE IF NOT EXISTS \(name) (\(parts.joined(separator: ", ")))"]
                + indexes.map { "CREATE INDEX IF NOT EXISTS \($0.name) ON \(name) (\($0.columns.joined(separator: ", ")))" }
        }
    }
}
