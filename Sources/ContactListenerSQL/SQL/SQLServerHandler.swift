import ContactListenerKit
import Synchronization

/// Stores each event in the normalized schema (`SQLSchema`) on a database server
/// (PostgreSQL or MariaDB/MySQL), one transaction per event.
///
/// One connection is kept and reused; a lock makes the threads that share the handler take
/// turns on it. The connection is made on first use (a server that is down at start must not
/// stop the listener: the spool keeps the events), migrated, and made again after it broke.
/// Any failure makes the delivery fail, so the spool retries it later; after a failed
/// connect the rest of the batch fails at once instead of waiting out one timeout each.
package final class SQLServerHandler: ContactHandler {
    /// The handler's configured name.
    package let name: String
    /// `postgres` or `mysql`, and where: for messages (never the password).
    package let target: String
    private let writer: SQLEventWriter
    private let connect: @Sendable () throws -> any SQLConnection
    private let connection = Mutex<Slot>(Slot())

    /// The kept connection and when it last answered (monotonic ns).
    private struct Slot {
        var connection: (any SQLConnection)?
        var lastUsed: UInt64 = 0
    }

    /// A connection idle this long is pinged before use: a server restarted meanwhile then
    /// costs a reconnect, not a failed delivery.
    private static let idleBeforePing: UInt64 = 5_000_000_000

    /// A handler that opens its connections with `connect` and writes in `dialect`.
    init(name: String, dialect: SQLDialect, target: String, connect: @escaping @Sendable () throws -> any SQLConnection) {
        self.name = name
        self.target = target
        self.writer = SQLEventWriter(dialect: dialect)
        self.connect = connect
    }

    /// Stores the event, or throws when the server is unreachable or refuses it.
    package func handle(_ delivery: Delivery) throws {
        if let failure = handle(batch: [delivery]).first, case .failure(let error) = failure { throw error }
    }

    /// Stores each event of the batch in its own transaction, over one connection, each
    /// while the spool's lease on it still holds.
    package func handle(batch: [Delivery]) -> [Result<Void, any Error>] {
        connection.withLock { slot in
            var results: [Result<Void, any Error>] = []
            results.reserveCapacity(batch.count)
            for delivery in batch {
                do {
                    try delivery.checkLease()
                } catch {
                    results.append(.failure(error))
                    continue
                }
                let current: any SQLConnection
                do {
                    current = try open(&slot)
                } catch {
                    let failure = HandlerError(handler: name, reason: "\(target): \(error)")
                    results += Array(repeating: .failure(failure), count: batch.count - results.count)
                    return results
                }
                do {
                    _ = try current.transaction {
                        try writer.write(delivery.event, json: delivery.json, to: current)
                    }
                    results.append(.success(()))
                } catch {
                    if current.isBroken {
                        current.close()
                        slot.connection = nil
                    }
                    results.append(.failure(HandlerError(handler: name, reason: "\(target): \(error)")))
                }
            }
            return results
        }
    }

    /// The open connection (checked with a ping after a while idle), or a new, migrated one.
    private func open(_ slot: inout Slot) throws -> any SQLConnection {
        let now = Timestamp.monotonicNanoseconds()
        if let current = slot.connection {
            let idle = now &- slot.lastUsed
            if !current.isBroken, idle < Self.idleBeforePing || (try? current.query("SELECT 1", [])) != nil {
                slot.lastUsed = now
                return current
            }
            current.close()
            slot.connection = nil
        }
        let fresh = try connect()
        slot.connection = fresh
        slot.lastUsed = now
        return fresh
    }

    /// Closes the connection.
    package func close() {
        connection.withLock { slot in
            slot.connection?.close()
            slot.connection = nil
        }
    }
}
