/// One open transaction's worth of access to a database: what `SQLEventWriter` needs and
/// nothing more, so the same writing code runs on SQLite, PostgreSQL and MariaDB.
///
/// Statements use `?` placeholders; a session for a dialect with other markers rewrites them.
import ContactListenerKit
protocol SQLSession {
    /// Runs a statement and returns the number of rows it inserted or changed.
    @discardableResult
    func execute(_ sql: String, _ arguments: [SQLValue]) throws -> Int
    /// Runs a query and returns its rows, every column as text (nil for NULL).
    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [[String?]]
}

/// A connection to a database server that `SQLServerHandler` keeps open between deliveries.
/// It is only ever used by one thread at a time (the handler's lock guards it).
protocol SQLConnection: SQLSession, AnyObject, Sendable {
    /// True once the connection can't be trusted any more (lost, timed out): the handler
    /// closes it and connects anew for the next delivery.
    var isBroken: Bool { get }
    /// Closes the connection; safe to call on a broken one.
    func close()
}

extension SQLConnection {
    /// Runs `body` inside BEGIN … COMMIT, rolling back when it throws. A failed ROLLBACK
    /// leaves the connection in an unknown state: the caller must see it as broken.
    func transaction<Result>(_ body: () throws -> Result) throws -> Result {
        try execute("BEGIN", [])
        do {
            let result = try body()
            try execute("COMMIT", [])
            return result
        } catch {
            if !isBroken { _ = try? execute("ROLLBACK", []) }
            throw error
        }
    }
}
