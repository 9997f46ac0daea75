import Foundation
import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerSQL

/// The `sqlite`, `postgres` and `mysql` handler objects against real servers (private
/// instances on loopback): the same events give the same rows in all three databases,
/// redelivery changes nothing, newest wins, and a server restart loses nothing.
@Suite("SQL handlers on real databases")
struct SQLHandlerTests {
    @Test("identical results in SQLite, PostgreSQL and MariaDB; idempotent; newest wins; survives a restart")
    func threeDatabases() async throws {
        let directory = try TestDirectory("sql-handlers")
        defer { directory.remove() }
        let (postgres, mariadb) = try await DatabaseServer.startPostgresAndMariaDB(in: directory)
        defer {
            postgres.stop()
            mariadb.stop()
        }

        let sqlitePath = directory.file("contacts.sqlite")
        let configuration = try ListenerConfiguration.parse("""
            handlers:
              - type: sqlite
                path: \(sqlitePath)
              - type: postgres
                url: \(postgres.url)
                timeout: 5s
              - type: mysql
                url: \(mariadb.url)
                timeout: 5s
            """, file: directory.file("handlers.yaml"), baseDirectory: directory.path)
        let handlers = try HandlerRegistry().makeHandlers(configuration.handlers)
        defer { handlers.forEach { $0.close() } }
        let snapshots: @Sendable () throws -> [DatabaseSnapshot] = {
            [try DatabaseSnapshot.read(sqlitePath: sqlitePath), try DatabaseSnapshot.read(postgres), try DatabaseSnapshot.read(mariadb)]
        }

        // 1. Every section, a newer and an older event for the same contact, an email-only
        //    contact with a 64 KiB value; one handler call per event, and a batch.
        let events = try SQLEvents.sequence()
        try await offload {
            for handler in handlers {
                for delivery in events.dropLast(2) { try handler.handle(delivery) }
                for result in handler.handle(batch: Array(events.suffix(2))) { try result.get() }
            }
        }
        let first = try await offload { try snapshots() }
        for (name, snapshot) in zip(["PostgreSQL", "MariaDB"], first.dropFirst()) {
            #expect(snapshot == first[0], "\(name) differs from SQLite:\n\(snapshot.differences(from: first[0]))")
        }
        let sqlite = first[0]
        #expect(sqlite.count("events") == events.count)
        #expect(sqlite.count("contacts") == 2)
        for table in DatabaseSnapshot.queries.map(\.table) {
            #expect(sqlite.count(table) > 0, "nothing landed in \(table): \(sqlite)")
        }
        // The newer event's values won; the older one filled nothing it shouldn't have.
        let contact = try #require(sqlite.tables["contacts"]?.first { $0[1] == "1001" })
        #expect(contact[2] == "ann.new@example.com")
        #expect(contact[4] == "+47 555 01 234")
        #expect(contact[6] == SQLEvents.olderAt)
        #expect(contact[7] == SQLEvents.newerAt)
        #expect(sqlite.tables["contact_fields"]?.contains { $0[3] == "City" && $0[4] == "Bergen" } == true)
        #expect(sqlite.column("contact_fields", 4).contains { $0?.utf8.count == SQLEvents.longValue.utf8.count && $0 == SQLEvents.longValue })

        // 2. Redelivery: the same events again, in doubt or not, change nothing anywhere.
        try await offload {
            for handler in handlers {
                for var delivery in events {
                    delivery.inDoubt = true
                    try handler.handle(delivery)
                }
                for result in handler.handle(batch: events) { try result.get() }
            }
        }
        let again = try await offload { try snapshots() }
        #expect(again == first, "redelivery changed rows")

        // 3. A restart while idle: the kept connections are dead, but a connection idle for a
        //    while is pinged first, so the next delivery reconnects and succeeds at once.
        try await postgres.stopAsync()
        try await mariadb.stopAsync()
        try await postgres.start()
        try await mariadb.start()
        try await Task.sleep(nanoseconds: 5_500_000_000)
        let afterIdle = try SQLEvents.delivery("transactionid=tx-after-idle&contact%5Bid%5D=1001&goals-reached%5B0%5D%5Bname%5D=Idle",
                                               receivedAt: "2026-03-08T10:00:00.000Z")
        try await offload { for handler in handlers { try handler.handle(afterIdle) } }

        // 4. Down: a delivery fails promptly (no hang) and nothing is half-stored; once the
        //    server is back the next attempt reconnects and the event is stored exactly once.
        let late = try SQLEvents.delivery("transactionid=tx-after-restart&contact%5Bid%5D=1001&contact%5Bphone%5D=999",
                                          receivedAt: "2026-03-09T10:00:00.000Z")
        try await offload { try handlers[0].handle(late) }
        try await postgres.stopAsync()
        try await mariadb.stopAsync()
        for handler in handlers.dropFirst() {
            let started = Date()
            #expect(throws: HandlerError.self, "\(handler.name) must fail while its server is down") {
                try handler.handle(late)
            }
            #expect(Date().timeIntervalSince(started) < 15, "\(handler.name) took too long to give up")
        }
        try await postgres.start()
        try await mariadb.start()
        try await offload {
            for handler in handlers.dropFirst() {
                // The first attempt may still meet the dead connection; the next one reconnects.
                if (try? handler.handle(late)) == nil { try handler.handle(late) }
                try handler.handle(late)
            }
        }
        let final = try await offload { try snapshots() }
        for (name, snapshot) in zip(["PostgreSQL", "MariaDB"], final.dropFirst()) {
            #expect(snapshot == final[0], "\(name) differs from SQLite after the restart:\n\(snapshot.differences(from: final[0]))")
        }
        #expect(final[0].count("events") == events.count + 2)
        #expect(final[0].tables["contacts"]?.first { $0[1] == "1001" }?[4] == "999")
    }
}

/// The events the SQL tests deliver, built as the listener builds them.
enum SQLEvents {
    static let olderAt = "2026-03-01T10:00:00.000Z"
    static let middleAt = "2026-03-02T10:00:00.000Z"
    static let newerAt = "2026-03-03T10:00:00.000Z"

    /// 64 KiB, multi-byte characters included.
    static let longValue: String = {
        let unit = "Æ-ø-å-€-x-\n"
        let whole = String(repeating: unit, count: 65_536 / unit.utf8.count)
        return whole + String(repeating: "y", count: 65_536 - whole.utf8.count)
    }()

    /// A structured POST body with every section (PHP's `http_build_query` encoding).
    static let fullBody = Fixtures.structuredBody

    /// Events in delivery order: every section (middle), a newer one for the same contact,
    /// an older one arriving late, and an email-only contact with a 64 KiB field.
    static func sequence() throws -> [Delivery] {
        let encodedLong = longValue.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        return [
            try delivery(fullBody, receivedAt: middleAt, requestID: "req-full"),
            try delivery(
                "transactionid=tx-newer&contact%5Bid%5D=1001&contact%5Bemail%5D=ann.new%40example.com"
                    + "&fields%5B0%5D%5Bid%5D=1&fields%5B0%5D%5Bname%5D=City&fields%5B0%5D%5Bvalue%5D=Bergen"
                    + "&links-clicked%5B0%5D%5Burl%5D=https%3A%2F%2Fexample.com%2Fnew&links-clicked%5B0%5D%5Bclicks%5D=12",
                receivedAt: newerAt, requestID: "req-newer"),
            try delivery(
                "transactionid=tx-older&contact%5Bid%5D=1001&contact%5Bemail%5D=ann.old%40example.com&contact%5Bphone%5D=000"
                    + "&fields%5B0%5D%5Bid%5D=1&fields%5B0%5D%5Bname%5D=City&fields%5B0%5D%5Bvalue%5D=Trondheim"
                    + "&fields%5B1%5D%5Bid%5D=5&fields%5B1%5D%5Bname%5D=Source&fields%5B1%5D%5Bvalue%5D=Fair"
                    + "&pages-visited%5B0%5D%5Bpage%5D=%2Fold&pages-visited%5B0%5D%5Bvisit_date%5D=2026-02-01",
                receivedAt: olderAt, requestID: "req-older"),
            try delivery(
                "transactionid=tx-email&contact%5Bemail%5D=Mia%40Example.com"
                    + "&fields%5B0%5D%5Bname%5D=Notes&fields%5B0%5D%5Bvalue%5D=\(encodedLong)"
                    + "&lead-status%5Bscore%5D=5&lead-status%5Blabel%5D=Cold",
                receivedAt: newerAt, requestID: "req-email"),
            try delivery("contact%5Bemail%5D=mia%40example.com&goals-reached%5B0%5D%5Bname%5D=Signup",
                         receivedAt: newerAt, requestID: "req-no-transaction-id"),
        ]
    }

    /// The event the listener makes of the form body `body`.
    static func delivery(_ body: String, receivedAt: String, requestID: String = UUID().uuidString) throws -> Delivery {
        var limits = FormLimits.default
        limits.maxValueBytes = 1 << 20
        let form = try URLEncodedFormDecoder(limits: limits).decode(Array(body.utf8))
        let metadata = EventMetadata(receivedAt: receivedAt, remoteAddress: "127.0.0.1", requestID: requestID, method: "POST", mode: .structured)
        return Delivery(event: try ContactEvent(form: form, metadata: metadata))
    }
}
