import ContactListenerKit
@preconcurrency import GRDB

/// Stores each event in a normalized SQLite database (`SQLSchema`), created and migrated
/// by GRDB: WAL mode, `synchronous=FULL` (a commit survives power loss), and a busy timeout
/// so that several processes (CGI mode) can share the file.
///
/// Every event is written in a transaction of its own; a batch shares one connection.
package final class SQLiteHandler: ContactHandler {
    /// The handler's configured name.
    package let name: String
    /// The database file.
    package let path: String
    let database: DatabaseQueue
    private let writer = SQLEventWriter(dialect: .sqlite)

    /// Opens (creating and migrating) the database at `path`; another process holding the
    /// write lock is waited for up to `busyTimeout` seconds.
    package init(name: String, path: String, busyTimeout: Double = 10) throws {
        self.name = name
        self.path = path
        database = try SQLiteFile.open(path, durability: .full, busyTimeout: busyTimeout, migrator: Self.migrator)
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in SQLSchema.migrations {
            migrator.registerMigration("v\(migration.version)") { db in
                for statement in migration.statements(.sqlite) { try db.execute(sql: statement) }
            }
        }
        return migrator
    }

    /// Stores the event, or throws when the database can't be written.
    package func handle(_ delivery: Delivery) throws {
        if let failure = handle(batch: [delivery]).first, case .failure(let error) = failure { throw error }
    }

    /// Stores each event in its own IMMEDIATE transaction (the write lock is taken up front,
    /// so a concurrent writer makes it wait rather than fail half-way), each while the
    /// spool's lease on it still holds.
    package func handle(batch: [Delivery]) -> [Result<Void, any Error>] {
        database.writeWithoutTransaction { db in
            batch.map { delivery in
                do {
                    try delivery.checkLease()
                } catch {
                    return .failure(error)
                }
                do {
                    try db.inTransaction(.immediate) {
                        _ = try writer.write(delivery.event, json: delivery.json, to: SQLiteSession(database: db))
                        return .commit
                    }
                    return .success(())
                } catch {
                    return .failure(HandlerError(handler: name, reason: "sqlite \(path): \(error)"))
                }
            }
        }
    }

    /// Closes the database.
    package func close() {
        try? database.close()
    }

    /// `type: sqlite`.
    package enum Factory: ContactHandlerFactory {
        /// The `type:` value.
        package static let type = "sqlite"
        /// The line `contact-listener handlers` prints.
        package static let summary = "store events in a normalized SQLite database (contacts, fields with history, activity, raw events)"
        /// The keys this type takes, with their help.
        package static let options: [(name: String, help: String)] = [
            ("path", "the database file, created and migrated on start; relative paths resolve against the config file's folder (required)"),
            ("busy_timeout", "how long to wait for another process's write lock, like 10s (default 10s)"),
        ]

        /// Builds the handler, naming the bad key on error.
        package static func make(_ configuration: HandlerConfiguration) throws(ConfigurationError) -> any ContactHandler {
            try checkKeys(configuration)
            let options = configuration.options
            guard let pathNode = options["path"] else { throw options.error("a sqlite handler needs 'path' (e.g. data/contacts.sqlite)") }
            let path = configuration.resolve(path: try pathNode.string())
            let busyTimeout = Double(try options["busy_timeout"]?.duration(in: 1...3_600_000) ?? 10_000) / 1000
            if try configuration.checkWritable(path: path, at: pathNode) { return DryRunHandler(name: configuration.name) }
            do {
                return try SQLiteHandler(name: configuration.name, path: path, busyTimeout: busyTimeout)
            } catch {
                throw pathNode.error("can't open the SQLite database \(path): \(error)")
            }
        }
    }
}
