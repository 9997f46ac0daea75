/// The SQL dialects the database handlers speak. Everything that differs between them is
/// here; `SQLEventWriter` and `SQLSchema` are written once against it.
import ContactListenerKit
enum SQLDialect: String, Sendable {
    /// SQLite through GRDB.
    case sqlite
    /// PostgreSQL through postgres-nio.
    case postgres
    /// MariaDB or MySQL through libmariadb.
    case mysql

    /// `INSERT … VALUES (?, …)`.
    func insert(into table: String, columns: [String]) -> String {
        "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))"
    }

    /// An insert that does nothing when a row with the same `conflict` key exists, so the
    /// affected-row count says whether the row is new. MySQL has no `DO NOTHING`, and
    /// `INSERT IGNORE` would also turn real errors (a value too long) into warnings; a no-op
    /// `ON DUPLICATE KEY UPDATE` reports 0 affected rows instead.
    func insertIgnoring(into table: String, columns: [String], conflict: [String]) -> String {
        let insert = insert(into: table, columns: columns)
        switch self {
        case .sqlite, .postgres:
            return insert + " ON CONFLICT (\(conflict.joined(separator: ", "))) DO NOTHING"
        case .mysql:
            let column = conflict.first ?? columns[0]
            return insert + " ON DUPLICATE KEY UPDATE \(column) = \(column)"
        }
    }

    /// Appended to a SELECT that reads a row about to be updated: the row stays locked until
    /// commit, so two processes updating one contact can't lose each other's change. SQLite
    /// needs none: its write transaction already excludes every other writer.
    var forUpdate: String { self == .sqlite ? "" : " FOR UPDATE" }

    /// The column type for `kind`.
    func type(of kind: SQLColumn.Kind) -> String {
        switch (self, kind) {
        // PostgreSQL compares a CHAR(n) column with a text parameter as text, casting the
        // column, which bypasses its index; VARCHAR(64) compares directly.
        case (.postgres, .key): return "VARCHAR(64)"
        case (.postgres, .text): return "TEXT"
        case (.postgres, .stamp): return "VARCHAR(40)"
        case (.postgres, .integer): return "BIGINT"
        case (.postgres, .version): return "VARCHAR(128)"
        // Keys and stamps are ASCII we produce; values are utf8mb4 and may be tens of KB
        // (TEXT stops at 64 KiB).
        case (.mysql, .key): return "CHAR(64) CHARACTER SET ascii COLLATE ascii_bin"
        case (.mysql, .text): return "LONGTEXT"
        case (.mysql, .stamp): return "VARCHAR(40) CHARACTER SET ascii COLLATE ascii_bin"
        case (.mysql, .integer): return "BIGINT"
        case (.mysql, .version): return "VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin"
        case (.sqlite, .key): return "CHAR(64)"
        case (.sqlite, .text), (.sqlite, .stamp), (.sqlite, .version): return "TEXT"
        case (.sqlite, .integer): return "INTEGER"
        }
    }
}
