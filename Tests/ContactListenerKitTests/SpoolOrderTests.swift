import Foundation
@preconcurrency import GRDB
import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerSQL

/// Per-contact order in the spool: for each handler, a contact's events go in the order
/// they were received; a later one waits while an earlier one is pending (leased or not)
/// or failing; a dead letter lets the rest go; other contacts and other handlers never wait.
@Suite("Spool: a contact's deliveries in the order received")
struct SpoolOrderTests {
    /// One step of a scenario; events are named by the test ("A1" is contact A's first).
    enum Step: Sendable {
        /// A claim by `handler` returns exactly these events, in this order.
        case claim(String, [String])
        /// The outcome of the handler's attempts on these events.
        case deliver(String, [String])
        case fail(String, [String])
        /// A permanent failure: a dead letter.
        case kill(String, [String])
        /// `spool retry` of a dead letter.
        case retry(String, String)
        /// A day passes on the wall clock: any retry is due.
        case afterRetryDelay
        /// `nextDue` for the handler is the first retry of the failed event (not now, though
        /// a held-up event is due now: the dispatcher would spin).
        case nextDueIsRetryOf(String, String)
    }

    static let scenarios: [(String, events: [String], steps: [Step])] = [
        ("a contact's later event waits for its earlier one; another contact's does not",
         ["A1", "A2", "B1", "A3"], [
            .claim("crm", ["A1", "B1"]), .claim("crm", []),
            .deliver("crm", ["A1", "B1"]), .claim("crm", ["A2"]), .deliver("crm", ["A2"]), .claim("crm", ["A3"]),
         ]),
        ("a failing first event holds its contact's later ones through its retry, then they follow in order",
         ["A1", "A2", "B1"], [
            .claim("crm", ["A1", "B1"]), .fail("crm", ["A1"]), .deliver("crm", ["B1"]),
            .claim("crm", []), .nextDueIsRetryOf("crm", "A1"),
            .afterRetryDelay, .claim("crm", ["A1"]), .fail("crm", ["A1"]),
            .afterRetryDelay, .claim("crm", ["A1"]), .deliver("crm", ["A1"]), .claim("crm", ["A2"]),
         ]),
        ("a dead letter lets its contact's later events go; retried by hand, it goes after them",
         ["A1", "A2"], [
            .claim("crm", ["A1"]), .kill("crm", ["A1"]), .claim("crm", ["A2"]), .deliver("crm", ["A2"]),
            .retry("crm", "A1"), .claim("crm", ["A1"]),
         ]),
        ("handlers keep separate orders: one failing holds nothing up on the other",
         ["A1", "A2"], [
            .claim("crm", ["A1"]), .claim("db", ["A1"]), .fail("crm", ["A1"]), .deliver("db", ["A1"]),
            .claim("db", ["A2"]), .claim("crm", []), .afterRetryDelay, .claim("crm", ["A1"]),
         ]),
        ("an id keys the contact before the email; events without either never wait",
         ["A1", "A2:email-of-A", "N1", "N2"], [
            .claim("crm", ["A1", "A2:email-of-A", "N1", "N2"]),
         ]),
        ("the email, trimmed and in any case, keys a contact without an id",
         ["E1", "E2"], [
            .claim("crm", ["E1"]), .deliver("crm", ["E1"]), .claim("crm", ["E2"]),
         ]),
    ]

    /// The contact an event names: "A1" is contact id "A"; "E…" has only an email, sent
    /// differently each time; "N…" names no contact; "X:email-of-A" has no id, only A's email.
    static func contact(of event: String) -> (id: String?, email: String?) {
        if event.hasPrefix("N") { return (nil, nil) }
        if event.hasPrefix("E") { return (nil, event == "E1" ? "Ann@Example.com" : "  ann@example.com ") }
        if event.hasSuffix(":email-of-A") { return (nil, "a@example.com") }
        return (String(event.prefix(1)), "a@example.com")
    }

    @Test(arguments: scenarios)
    func scenario(name: String, events: [String], steps: [Step]) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cl-order-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let spool = try Spool(configuration: SpoolConfiguration(path: "\(folder)/spool.db"), handlerNames: ["crm", "db"])
        defer { spool.close() }
        var now = Clock.milliseconds()
        let items = events.map { event in
            let contact = Self.contact(of: event)
            return Spool.Item(dedupKey: nil, transactionID: event, requestID: "r-\(event)", json: Array("{}".utf8),
                              contactKey: Spool.contactKey(id: contact.id, email: contact.email))
        }
        let stored = try spool.store(items, now: now)
        var ids: [String: Int64] = [:]
        for (event, outcome) in zip(events, stored) {
            guard case .stored(let id) = outcome else { Issue.record("\(event) not stored"); return }
            ids[event] = id
        }
        let names = Dictionary(uniqueKeysWithValues: ids.map { ($1, $0) })
        var claims: [String: (claim: Spool.Claim, owner: String)] = [:]  // "handler/event" → its claim and owner
        func record(_ handler: String, _ events: [String], _ result: Spool.AttemptResult, step: Int) throws {
            for event in events {
                guard let (claim, owner) = claims["\(handler)/\(event)"] else { Issue.record("\(name), step \(step): \(event) was not claimed by \(handler)"); continue }
                let lost = try spool.complete(handler: handler, owner: owner, results: [(claim.eventID, claim.attempts, result)], now: now)
                #expect(lost.isEmpty, "\(name), step \(step)")
            }
        }
        for (number, step) in steps.enumerated() {
            switch step {
            case .claim(let handler, let expected):
                let owner = "o\(number)-\(handler)"
                let got = try spool.claim(handler: handler, owner: owner, limit: 10, now: now)
                #expect(got.map { names[$0.eventID] ?? "?" } == expected, "\(name), step \(number): \(handler) claimed")
                for claim in got { claims["\(handler)/\(names[claim.eventID] ?? "?")"] = (claim, owner) }
            case .deliver(let handler, let events):
                try record(handler, events, .delivered, step: number)
            case .fail(let handler, let events):
                try record(handler, events, .failed("500", permanent: false), step: number)
            case .kill(let handler, let events):
                try record(handler, events, .failed("400", permanent: true), step: number)
            case .retry(let handler, let event):
                #expect(try spool.retry(eventID: ids[event], handler: handler, now: now) == 1, "\(name), step \(number)")
            case .afterRetryDelay:
                now += 86_400_000
            case .nextDueIsRetryOf(let handler, let event):
                let due = try spool.nextDue(handler: handler, now: now)
                let retryAt = try DatabaseQueue(path: "\(folder)/spool.db").read { db in
                    try Int64.fetchOne(db, sql: "SELECT next_attempt_at FROM deliveries WHERE event_id = ? AND handler = ?", arguments: [ids[event], handler])
                }
                #expect(due == retryAt && (due ?? 0) > now, "\(name), step \(number): next due \(String(describing: due)), \(event)'s retry at \(String(describing: retryAt)), now \(now)")
            }
        }
    }

    @Test("a contact's waiting events are parked behind the open one, and the next is due when it ends (delivered or dead)")
    func waitingEventsAreParked() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cl-order-park-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let spool = try Spool(configuration: SpoolConfiguration(path: "\(folder)/spool.db"), handlerNames: ["crm"])
        defer { spool.close() }
        let now = Clock.milliseconds()
        // 1,000 events of one contact, then one of another: the other's is claimed at once,
        // without the claim scanning through the 999 waiting ones.
        let items = (0..<1_000).map { Spool.Item(dedupKey: nil, transactionID: "a\($0)", requestID: "r\($0)", json: Array("{}".utf8), contactKey: "A") }
            + [Spool.Item(dedupKey: nil, transactionID: "b", requestID: "rb", json: Array("{}".utf8), contactKey: "B")]
        _ = try spool.store(items, now: now)
        func due() throws -> [Int64] {
            try spool.database.read { db in try Int64.fetchAll(db, sql: "SELECT next_attempt_at FROM deliveries ORDER BY event_id") }
        }
        var times = try due()
        #expect(times[0] == now && times[1_000] == now, "the first of each contact is due")
        #expect(times[1..<1_000].allSatisfy { $0 == Spool.parked }, "the rest of A's wait, parked")
        let first = try spool.claim(handler: "crm", owner: "o1", limit: 10, now: now)
        #expect(first.map(\.eventID).count == 2)
        _ = try spool.complete(handler: "crm", owner: "o1", results: first.map { ($0.eventID, $0.attempts, .delivered) }, now: now + 5)
        times = try due()
        #expect(times[1] == now + 5 && times[2..<1_000].allSatisfy { $0 == Spool.parked }, "A's second is due once A's first is delivered")
        // A dead letter ends its delivery too.
        let second = try spool.claim(handler: "crm", owner: "o2", limit: 10, now: now + 5)
        #expect(second.count == 1)
        _ = try spool.complete(handler: "crm", owner: "o2", results: second.map { ($0.eventID, $0.attempts, .failed("400", permanent: true)) }, now: now + 6)
        times = try due()
        #expect(times[2] == now + 6 && times[3..<1_000].allSatisfy { $0 == Spool.parked }, "A's third is due once A's second is dead")
        // A failure to be retried does not.
        let third = try spool.claim(handler: "crm", owner: "o3", limit: 10, now: now + 6)
        _ = try spool.complete(handler: "crm", owner: "o3", results: third.map { ($0.eventID, $0.attempts, .failed("500", permanent: false)) }, now: now + 7)
        #expect(try due()[3] == Spool.parked, "A's fourth waits while A's third is failing")
        #expect(try spool.wakeParked(handler: "crm", now: now + 8) == 0, "nothing is parked behind nothing")
        // A parked delivery left behind nothing (an older binary ended the one ahead): the
        // safety net sets it due, and only it.
        try spool.database.write { db in try db.execute(sql: "UPDATE deliveries SET state = 'delivered' WHERE event_id = ?", arguments: [third[0].eventID]) }
        #expect(try spool.wakeParked(handler: "crm", now: now + 9) == 1)
        times = try due()
        #expect(times[3] == now + 9 && times[4..<1_000].allSatisfy { $0 == Spool.parked })
    }

    @Test("the check that holds a contact's later events is one probe of the partial index")
    func holdUpCheckUsesItsIndex() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cl-order-plan-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let spool = try Spool(configuration: SpoolConfiguration(path: "\(folder)/spool.db"), handlerNames: ["crm"])
        defer { spool.close() }
        let plan = try spool.database.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT d.event_id FROM deliveries d WHERE d.handler = 'crm' AND \(Spool.notHeldUp)")
                .map { row -> String in row["detail"] }
        }
        #expect(plan.contains { $0.contains("deliveries_contact_open") }, "\(plan)")
    }
}
