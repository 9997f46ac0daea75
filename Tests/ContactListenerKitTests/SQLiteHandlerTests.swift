import Foundation
@preconcurrency import GRDB
import Synchronization
import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerSQL
@testable import ContactListenerHTTP

/// The `sqlite` handler on real database files: what lands in which table, idempotent
/// redelivery, newest-wins contact merging, email keys and long values.
@Suite("SQLite handler")
struct SQLiteHandlerTests {
    /// Every section, as the platform's PHP sends it (`http_build_query`).
    static let fullPayload = "transactionid=tx-sql-1&contact%5Bid%5D=1001&contact%5Bemail%5D=ann%40example.com"
        + "&contact%5Bphone%5D=%2B47+555+01+234&contact%5Bprofile_url%5D=https%3A%2F%2Fcrm.example.com%2Fc%2F1001"
        + "&fields%5B0%5D%5Bid%5D=1&fields%5B0%5D%5Bname%5D=City&fields%5B0%5D%5Bvalue%5D=Oslo"
        + "&fields%5B1%5D%5Bid%5D=2&fields%5B1%5D%5Bname%5D=Note&fields%5B1%5D%5Bvalue%5D=Line+one%0A%C3%86%C3%98%C3%85+%26+100%25"
        + "&campaigns-opened%5B0%5D%5Bid%5D=31&campaigns-opened%5B0%5D%5Bname%5D=Spring&campaigns-opened%5B0%5D%5Bopen_date%5D=2026-03-01+10%3A00%3A00"
        + "&links-clicked%5B0%5D%5Burl%5D=https%3A%2F%2Fexample.com%2Fo%3Fx%3D1&links-clicked%5B0%5D%5Bclicks%5D=3"
        + "&links-clicked%5B1%5D%5Burl%5D=https%3A%2F%2Fexample.com%2Fp&links-clicked%5B1%5D%5Bclicks%5D=many"
        + "&pages-visited%5B0%5D%5Bpage%5D=%2Fpricing&pages-visited%5B0%5D%5Bvisit_date%5D=2026-03-02"
        + "&automation-triggered%5B0%5D%5Bid%5D=7&automation-triggered%5B0%5D%5Bname%5D=Welcome&automation-triggered%5B0%5D%5Btrigger_date%5D=2026-03-03"
        + "&goals-reached%5B0%5D%5Bid%5D=8&goals-reached%5B0%5D%5Bname%5D=Signed+up&goals-reached%5B0%5D%5Breach_date%5D=2026-03-04"
        + "&webhooks-triggered%5B0%5D%5Bid%5D=9&webhooks-triggered%5B0%5D%5Bname%5D=CRM&webhooks-triggered%5B0%5D%5Btrigger_date%5D=2026-03-05"
        + "&lead-score%5B0%5D%5Bid%5D=10&lead-score%5B0%5D%5Bname%5D=Engagement&lead-score%5B0%5D%5Bscore%5D=42&lead-score%5B0%5D%5Bscore_date%5D=2026-03-06"
        + "&lead-status%5Bscore%5D=42&lead-status%5Blabel%5D=Warm"

    /// The row count every table must have after `fullPayload` is stored once.
    static let fullPayloadCounts: [String: Int] = [
        "events": 1, "contacts": 1, "contact_fields": 2, "contact_field_observations": 2, "contact_field_history": 2,
        "campaigns_opened": 1, "links_clicked": 2, "pages_visited": 1, "automations_triggered": 1,
        "goals_reached": 1, "webhooks_triggered": 1, "lead_scores": 1, "lead_statuses": 1,
    ]

    @Test("a payload with every section lands in every table")
    func everySection() throws {
        let store = try Store()
        defer { store.remove() }
        try store.handler.handle(try delivery(Self.fullPayload))
        #expect(try store.counts() == Self.fullPayloadCounts)
        #expect(try store.rows("SELECT contact_id, email, phone, profile_url FROM contacts")
            == [["1001", "ann@example.com", "+47 555 01 234", "https://crm.example.com/c/1001"]])
        #expect(try store.rows("SELECT field_id, field_name, value FROM contact_fields ORDER BY field_id")
            == [["1", "City", "Oslo"], ["2", "Note", "Line one\nÆØÅ & 100%"]])
        #expect(try store.rows("SELECT url, clicks FROM links_clicked ORDER BY position")
            == [["https://example.com/o?x=1", "3"], ["https://example.com/p", nil]])
        #expect(try store.rows("SELECT score, label FROM lead_statuses") == [["42", "Warm"]])
        // Every table contains every registered table: the schema and the writer agree.
        #expect(Set(try store.counts().keys) == Set(SQLSchema.tables.map(\.name)))
        let json = try store.rows("SELECT json FROM events").first?.first ?? nil
        #expect(json.map { try? ContactEvent(storedJSON: Array($0.utf8)) } == (try delivery(Self.fullPayload)).event)
    }

    @Test("a batch stops at the first delivery whose spool lease is lost: nothing more is stored")
    func lostLeaseStopsTheBatch() throws {
        let store = try Store()
        defer { store.remove() }
        // Each look at the clock is 10 s later: the first delivery finds the lease fresh, the
        // second overdue, and its renewal finds the deliveries taken over.
        let ticks = Atomic<Int64>(0)
        let lease = BatchLease(handler: "sqlite", count: 3, length: 900, claimedAt: 0, clock: { ticks.add(10_000, ordering: .relaxed).oldValue }) { _ in 0 }
        let batch = try (1...3).map { index in
            var delivery = try delivery("transactionid=tx-lease-\(index)&contact%5Bid%5D=\(index)", requestID: "req-\(index)")
            delivery.lease = BatchLease.Ticket(lease: lease, eventID: Int64(index))
            return delivery
        }
        let results = store.handler.handle(batch: batch)
        #expect(try store.rows("SELECT transaction_id FROM events") == [["tx-lease-1"]])
        let lost = results.map { result -> Int64 in
            if case .failure(let error as BatchLease.Lost) = result { return error.eventID }
            return 0
        }
        #expect(lost == [0, 2, 3], "\(results)")
    }

    @Test("redelivery changes nothing", arguments: [
        (inDoubt: false, batch: false), (inDoubt: true, batch: false), (inDoubt: false, batch: true), (inDoubt: true, batch: true),
    ])
    func redelivery(inDoubt: Bool, batch: Bool) throws {
        let store = try Store()
        defer { store.remove() }
        let first = try delivery(Self.fullPayload, requestID: "req-a")
        try store.handler.handle(first)
        let before = try store.snapshot()
        // The same transaction id, received again later under another request id.
        var again = try delivery(Self.fullPayload, receivedAt: "2026-03-10T00:00:00.000Z", requestID: "req-b")
        again.inDoubt = inDoubt
        if batch {
            let results = store.handler.handle(batch: [again, again])
            #expect(results.allSatisfy { if case .success = $0 { return true } else { return false } })
        } else {
            try store.handler.handle(again)
        }
        #expect(try store.snapshot() == before)
    }

    @Test("an event without a transaction id is keyed on its request id")
    func requestIDKey() throws {
        let store = try Store()
        defer { store.remove() }
        let event = try delivery("contact%5Bemail%5D=a%40b.c&fields%5B0%5D%5Bname%5D=x&fields%5B0%5D%5Bvalue%5D=1", requestID: "req-only")
        try store.handler.handle(event)
        try store.handler.handle(event)
        #expect(try store.counts()["events"] == 1)
        #expect(try store.rows("SELECT event_key FROM events") == [[SQLKey.hash("req-only")]])
    }

    /// Three events for one contact, in one order of arrival.
    struct Order: Sendable, CustomTestStringConvertible {
        var indexes: [Int]
        var testDescription: String { indexes.map { ["old", "middle", "new"][$0] }.joined(separator: " → ") }
    }

    /// Every order three events can arrive in.
    static let orders: [Order] = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]].map(Order.init)

    @Test("the newest event wins, and the rows are the same whatever the order of arrival", arguments: orders)
    func newestWins(order: Order) throws {
        let events = [
            try delivery(
                "transactionid=tx-old&contact%5Bid%5D=5&contact%5Bemail%5D=old%40example.com&contact%5Bphone%5D=111"
                    + "&fields%5B0%5D%5Bid%5D=1&fields%5B0%5D%5Bname%5D=City&fields%5B0%5D%5Bvalue%5D=Oslo"
                    + "&fields%5B1%5D%5Bid%5D=3&fields%5B1%5D%5Bname%5D=Plan&fields%5B1%5D%5Bvalue%5D=Basic"
                    + "&campaigns-opened%5B0%5D%5Bid%5D=1&campaigns-opened%5B0%5D%5Bname%5D=A",
                receivedAt: "2026-03-01T10:00:00.000Z"),
            try delivery(
                "transactionid=tx-middle&contact%5Bid%5D=5&contact%5Bphone%5D=222"
                    + "&fields%5B0%5D%5Bid%5D=1&fields%5B0%5D%5Bname%5D=City&fields%5B0%5D%5Bvalue%5D=Oslo"
                    + "&fields%5B1%5D%5Bid%5D=3&fields%5B1%5D%5Bname%5D=Plan&fields%5B1%5D%5Bvalue%5D=Pro",
                receivedAt: "2026-03-02T10:00:00.000Z"),
            try delivery(
                "transactionid=tx-new&contact%5Bid%5D=5&contact%5Bemail%5D=new%40example.com&contact%5Bprofile_url%5D=https%3A%2F%2Fp"
                    + "&fields%5B0%5D%5Bid%5D=1&fields%5B0%5D%5Bname%5D=City&fields%5B0%5D%5Bvalue%5D=Bergen"
                    + "&campaigns-opened%5B0%5D%5Bid%5D=2&campaigns-opened%5B0%5D%5Bname%5D=B",
                receivedAt: "2026-03-03T10:00:00.000Z"),
        ]
        let store = try Store()
        defer { store.remove() }
        for index in order.indexes { try store.handler.handle(events[index]) }

        // Each value from the newest event that sent one: the email and URL from the newest,
        // the phone from the middle one (the newest sent none, the oldest is older).
        #expect(try store.rows("SELECT contact_id, email, phone, profile_url, first_seen_at, last_seen_at FROM contacts")
            == [["5", "new@example.com", "222", "https://p", "2026-03-01T10:00:00.000Z", "2026-03-03T10:00:00.000Z"]])
        #expect(try store.rows("SELECT field_name, value FROM contact_fields ORDER BY field_id")
            == [["City", "Bergen"], ["Plan", "Pro"]])
        // Every event's activity is recorded.
        #expect(try store.rows("SELECT campaign_name FROM campaigns_opened ORDER BY campaign_name") == [["A"], ["B"]])
        // The changes in time order; the middle event's unchanged City is not one.
        #expect(try store.rows("SELECT field_name, old_value, new_value FROM contact_field_history ORDER BY changed_at, field_name")
            == [["City", nil, "Oslo"], ["Plan", nil, "Basic"], ["Plan", "Basic", "Pro"], ["City", "Oslo", "Bergen"]])

        // And every row of every table equals the in-order delivery's.
        let reference = try Store()
        defer { reference.remove() }
        for event in events { try reference.handler.handle(event) }
        #expect(try store.snapshot() == reference.snapshot())
    }

    /// How contacts without an id find their key.
    struct EmailCase: Sendable, CustomTestStringConvertible {
        var name: String
        var bodies: [String]
        /// The contacts expected afterwards: contact_id and email.
        var contacts: [[String?]]
        var testDescription: String { name }
    }

    static let emailCases: [EmailCase] = [
        EmailCase(name: "no id: keyed on the email",
                  bodies: ["transactionid=e1&contact%5Bemail%5D=Mia%40Example.com"],
                  contacts: [[nil, "Mia@Example.com"]]),
        EmailCase(name: "the same email in another case and with blanks is the same contact",
                  bodies: ["transactionid=e1&contact%5Bemail%5D=Mia%40Example.com",
                           "transactionid=e2&contact%5Bemail%5D=+mia%40example.com+&contact%5Bphone%5D=9"],
                  contacts: [[nil, " mia@example.com "]]),
        EmailCase(name: "an email-only event joins the contact that has an id",
                  bodies: ["transactionid=e1&contact%5Bid%5D=77&contact%5Bemail%5D=jo%40example.com",
                           "transactionid=e2&contact%5Bemail%5D=jo%40example.com&contact%5Bphone%5D=9"],
                  contacts: [["77", "jo@example.com"]]),
        EmailCase(name: "neither id nor email: no contact, activity kept",
                  bodies: ["transactionid=e1&contact%5Bphone%5D=9&pages-visited%5B0%5D%5Bpage%5D=%2Fa"],
                  contacts: []),
    ]

    @Test("contacts without an id are keyed on their email", arguments: emailCases)
    func emailKey(_ testCase: EmailCase) throws {
        let store = try Store()
        defer { store.remove() }
        for (index, body) in testCase.bodies.enumerated() {
            try store.handler.handle(try delivery(body, receivedAt: "2026-03-0\(index + 1)T00:00:00.000Z"))
        }
        #expect(try store.rows("SELECT contact_id, email FROM contacts") == testCase.contacts)
        #expect(try store.counts()["events"] == testCase.bodies.count)
        if testCase.contacts.isEmpty {
            #expect(try store.rows("SELECT contact_key, page FROM pages_visited") == [[nil, "/a"]])
        } else if testCase.contacts.first?.first == nil {
            let key = SQLKey.contact(email: "mia@example.com")
            #expect(try store.rows("SELECT contact_key FROM contacts") == [[key]])
        }
    }

    @Test("a 64 KiB field value and a 64 KiB contact id are stored intact", arguments: [65_536, 200_000])
    func longValues(size: Int) throws {
        let store = try Store()
        defer { store.remove() }
        // Multi-byte characters too, so a cut in the middle of one would show.
        let unit = "Æ-ø-å-€-x-"
        let whole = String(repeating: unit, count: size / unit.utf8.count)
        let value = whole + String(repeating: "x", count: size - whole.utf8.count)
        #expect(value.utf8.count == size)
        let encoded = value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let id = String(repeating: "9", count: size)
        try store.handler.handle(try delivery(
            "transactionid=\(id)&contact%5Bid%5D=\(id)&fields%5B0%5D%5Bname%5D=Blob&fields%5B0%5D%5Bvalue%5D=\(encoded)"))
        let stored = try store.rows("SELECT value FROM contact_fields").first?.first ?? nil
        #expect(stored?.utf8.count == value.utf8.count)
        #expect(stored == value)
        #expect(try store.rows("SELECT contact_id FROM contacts") == [[id]])
        #expect(try store.rows("SELECT transaction_id FROM events") == [[id]])
    }

    @Test("the factory reads path and busy_timeout, and names a bad key")
    func factory() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sqlite-factory-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let good = try ListenerConfiguration.parse(
            "handlers:\n  - type: sqlite\n    path: db/contacts.sqlite\n    busy_timeout: 2s\n",
            file: "test.yaml", baseDirectory: directory)
        let handlers = try HandlerRegistry().makeHandlers(good.handlers)
        #expect((handlers.first as? SQLiteHandler)?.path == "\(directory)/db/contacts.sqlite")
        handlers.forEach { $0.close() }
        for (yaml, mentioning) in [
            ("handlers:\n  - type: sqlite\n", "needs 'path'"),
            ("handlers:\n  - type: sqlite\n    path: x.db\n    busy_timeout: soon\n", "busy_timeout"),
            ("handlers:\n  - type: sqlite\n    path: x.db\n    fsync: true\n", "fsync"),
        ] {
            let configuration = try ListenerConfiguration.parse(yaml, file: "test.yaml", baseDirectory: directory)
            #expect {
                try HandlerRegistry().makeHandlers(configuration.handlers)
            } throws: { error in
                "\(error)".contains(mentioning)
            }
        }
    }
}

/// A fresh SQLite handler in a folder of its own, and read access to its tables.
private struct Store {
    let directory: String
    let handler: SQLiteHandler
    let reader: DatabaseQueue

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sqlite-handler-\(UUID().uuidString)").path
        handler = try SQLiteHandler(name: "sqlite", path: "\(directory)/contacts.sqlite")
        reader = try DatabaseQueue(path: "\(directory)/contacts.sqlite")
    }

    /// Rows of `sql`, every column as text.
    func rows(_ sql: String) throws -> [[String?]] {
        try reader.read { db in try SQLiteSession(database: db).query(sql, []) }
    }

    /// The row count of every table of the schema.
    func counts() throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for table in SQLSchema.tables {
            counts[table.name] = Int(try rows("SELECT COUNT(*) FROM \(table.name)").first?.first??.description ?? "") ?? -1
        }
        return counts
    }

    /// Every row of every table, for before/after comparisons.
    func snapshot() throws -> [String: [[String?]]] {
        var snapshot: [String: [[String?]]] = [:]
        for table in SQLSchema.tables {
            snapshot[table.name] = try rows("SELECT * FROM \(table.name) ORDER BY \(table.primaryKey.joined(separator: ", "))")
        }
        return snapshot
    }

    func remove() {
        handler.close()
        try? reader.close()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A delivery of the form body `body`, received at `receivedAt`.
private func delivery(_ body: String, receivedAt: String = "2026-03-01T10:00:00.000Z", requestID: String = "req-1") throws -> Delivery {
    var limits = FormLimits.default
    limits.maxValueBytes = 1 << 20
    limits.maxKeyBytes = 1 << 20
    limits.maxBodyBytes = 8 << 20
    let form = try URLEncodedFormDecoder(limits: limits).decode(Array(body.utf8))
    let metadata = EventMetadata(receivedAt: receivedAt, remoteAddress: "127.0.0.1", requestID: requestID, method: "POST", mode: .structured)
    return Delivery(event: try ContactEvent(form: form, metadata: metadata))
}
