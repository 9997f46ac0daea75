/// Brings a server database's schema up to `SQLSchema.migrations`, recording the versions
/// applied in `schema_migrations`. Several processes may connect at once: PostgreSQL takes a
/// transaction-scoped advisory lock (its DDL is transactional), MariaDB/MySQL a named lock
/// (its DDL commits by itself, so every statement is also `IF NOT EXISTS`).
import ContactListenerKit
enum SQLServerMigrator {
    /// An arbitrary constant naming the schema lock (`pg_advisory_xact_lock`, `GET_LOCK`).
    private static let lockID = 7_301_184_259

    /// Applies the missing migrations through `connection`.
    static func migrate(_ connection: any SQLConnection, dialect: SQLDialect, timeout: Int) throws {
        switch dialect {
        case .postgres:
            try connection.transaction {
                _ = try connection.query("SELECT pg_advisory_xact_lock(\(lockID))", [])
                try apply(connection, dialect: dialect)
            }
        case .mysql:
            let lock = try connection.query("SELECT GET_LOCK('contact_listener_schema_\(lockID)', \(timeout))", [])
            guard lock.first?.first == "1" else {
                throw SQLFailure("another process held the schema lock for \(timeout) s")
            }
            defer { _ = try? connection.query("SELECT RELEASE_LOCK('contact_listener_schema_\(lockID)')", []) }
            try apply(connection, dialect: dialect)
        case .sqlite:
            // GRDB's DatabaseMigrator does this for SQLite.
            break
        }
    }

    private static func apply(_ connection: any SQLConnection, dialect: SQLDialect) throws {
        let table = SQLTable(
            name: "schema_migrations",
            columns: [SQLColumn(name: "version", kind: .integer, nullable: false),
                      SQLColumn(name: "applied_at", kind: .stamp, nullable: false)],
            primaryKey: ["version"])
        for statement in table.createStatements(dialect) { try connection.execute(statement, []) }
        let applied = Set(try connection.query("SELECT version FROM schema_migrations", []).compactMap { ($0.first ?? nil).flatMap { Int($0) } })
        for migration in SQLSchema.migrations where !applied.contains(migration.version) {
            for statement in migration.statements(dialect) { try connection.execute(statement, []) }
            try connection.execute(
                dialect.insert(into: "schema_migrations", columns: ["version", "applied_at"]),
                [.integer(Int64(migration.version)), .text(Timestamp.now())])
        }
    }
}
