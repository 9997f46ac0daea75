import Foundation
@preconcurrency import GRDB
import Logging
import Synchronization
import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerSQL
@testable import ContactListenerHTTP
@testable import ListenerSupport

/// The spool's claims between two owners (two processes, or two claims of one process), on
/// a real spool file with the clocks given by the test: who may claim a leased delivery,
/// and whose completion counts.
@Suite("Spool: claims, leases and completions between owners")
struct SpoolClaimTests {
    /// A spool with a 1 s lease and one handler, `crm`, in a folder of its own.
    struct Fixture {
        static let lease: Int64 = 1_000
        let folder: String
        let spool: Spool
        /// The wall-clock time the events were stored at.
        let now = Clock.milliseconds()

        init(events: Int = 1) throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("cl-spool-\(UUID().uuidString)").path
            var configuration = SpoolConfiguration(path: "\(folder)/spool.db")
            configuration.lease = Self.lease
            spool = try Spool(configuration: configuration, handlerNames: ["crm"])
            let items = (0..<events).map { Spool.Item(dedupKey: nil, transactionID: "tx-\($0)", requestID: "req-\($0)", json: Array(#"{"n":\#($0)}"#.utf8)) }
            _ = try spool.store(items, now: now)
        }

        func claim(_ owner: String, at leaseNow: Int64, wallOffset: Int64 = 0) throws -> [Spool.Claim] {
            try spool.claim(handler: "crm", owner: owner, limit: 10, now: now + wallOffset, leaseNow: leaseNow)
        }

        /// The only delivery's (state, attempts, last error).
        func row() throws -> (state: DeliveryState, attempts: Int, error: String?) {
            let entry = try #require(try spool.list(handler: "crm").first)
            return (entry.state, entry.attempts, entry.lastError)
        }

        /// Runs `sql` on the spool file directly (what another binary might have written).
        func execute(_ sql: String, _ arguments: StatementArguments = []) throws {
            let database = try DatabaseQueue(path: "\(folder)/spool.db")
            try database.write { db in try db.execute(sql: sql, arguments: arguments) }
        }

        func remove() { try? FileManager.default.removeItem(atPath: folder) }
    }

    /// Owner A claims at lease-clock time `first`; owner B tries at `second` (the wall clock
    /// moved by `wallOffset`): a lease holds from its start to its end on the lease clock
    /// only, and a lease "taken" after now is from before a reboot.
    static let claimCases: [(name: String, first: Int64, second: Int64, wallOffset: Int64, bClaims: Int)] = [
        ("B 1 ms before A's lease ends", 5_000, 5_999, 0, 0),
        ("B as A's lease ends", 5_000, 6_000, 0, 1),
        ("the wall clock jumps a day ahead", 5_000, 5_500, 86_400_000, 0),
        ("A's lease from before a reboot (taken after now)", 10_000_000, 5_000, 0, 1),
        ("A's lease from before a reboot, taken before now: holds until its end", 1_000, 1_500, 0, 0),
    ]

    @Test(arguments: claimCases)
    func whoMayClaim(_ example: (name: String, first: Int64, second: Int64, wallOffset: Int64, bClaims: Int)) throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        #expect(try fixture.claim("A.1", at: example.first).count == 1)
        let claims = try fixture.claim("B.1", at: example.second, wallOffset: example.wallOffset)
        #expect(claims.count == example.bClaims, "\(example.name)")
        #expect(claims.allSatisfy { $0.inDoubt }, "a delivery taken over from a lease is in doubt")
    }

    @Test("a claim that waits for the write lock reads the lease clock once it has it")
    func claimReadsTheClockUnderTheLock() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        // Another process holds the write lock while B's claim waits for it, and takes a lease
        // just before letting go: later than B's call, earlier than B's turn.
        let other = try DatabaseQueue(path: "\(fixture.folder)/spool.db")
        let claimed = Mutex<Int?>(nil)
        var waiter: WorkerThread?
        try other.writeWithoutTransaction { db in
            try db.execute(sql: "BEGIN IMMEDIATE")
            waiter = try WorkerThread {
                let count = (try? fixture.spool.claim(handler: "crm", owner: "B.1", limit: 10).count) ?? -1
                claimed.withLock { $0 = count }
            }
            usleep(300_000)
            let now = Clock.leaseMilliseconds()
            try db.execute(sql: "UPDATE deliveries SET lease_from = ?, lease_until = ?, lease_owner = 'A.1'", arguments: [now, now + 60_000])
            try db.execute(sql: "COMMIT")
        }
        waiter?.join()
        #expect(claimed.withLock { $0 } == 0, "B claimed a delivery whose lease A took while B waited")
    }

    @Test("a lease stored in wall-clock time (a spool from before v2, or an older binary) holds nothing")
    func wallClockLeaseHoldsNothing() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        try fixture.execute("UPDATE deliveries SET lease_from = 0, lease_until = ?, lease_owner = 'old'", [fixture.now + 60_000])
        #expect(try fixture.claim("B.1", at: 1_000).count == 1)
    }

    /// A's outcome, and whether B had recorded its own before A's late completion arrived.
    static let lateCases: [(name: String, result: Spool.AttemptResult, bFirst: Bool)] = [
        ("A delivered, after B recorded", .delivered, true),
        ("A failed, after B recorded", .failed("500", permanent: false), true),
        ("A dead, after B recorded", .failed("400", permanent: true), true),
        ("A delivered, while B still works", .delivered, false),
        ("A failed, while B still works", .failed("500", permanent: false), false),
    ]

    @Test(arguments: lateCases)
    func lateCompletionChangesNothing(_ example: (name: String, result: Spool.AttemptResult, bFirst: Bool)) throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let a = try fixture.claim("A.1", at: 0)
        let b = try fixture.claim("B.1", at: Fixture.lease)
        try #require(a.count == 1 && b.count == 1)
        let id = a[0].eventID
        #expect(try fixture.spool.renewLease(handler: "crm", owner: "A.1", eventIDs: [id], leaseNow: Fixture.lease + 1) == 0)
        if example.bFirst {
            #expect(try fixture.spool.complete(handler: "crm", owner: "B.1", results: [(id, b[0].attempts, .failed("B's error", permanent: false))]).isEmpty)
        }
        #expect(try fixture.spool.complete(handler: "crm", owner: "A.1", results: [(id, a[0].attempts, example.result)]) == [id], "\(example.name)")
        if !example.bFirst {
            #expect(try fixture.spool.complete(handler: "crm", owner: "B.1", results: [(id, b[0].attempts, .failed("B's error", permanent: false))]).isEmpty)
        }
        let row = try fixture.row()
        #expect(row.state == .failed && row.attempts == 1 && row.error == "B's error", "\(example.name): \(row)")
    }

    @Test("an earlier claim of the same process can't record over its later claim")
    func earlierClaimOfTheSameProcess() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let first = try fixture.claim("P.1", at: 0)
        let second = try fixture.claim("P.2", at: Fixture.lease)
        try #require(first.count == 1 && second.count == 1)
        #expect(try fixture.spool.complete(handler: "crm", owner: "P.1", results: [(first[0].eventID, 0, .delivered)]) == [first[0].eventID])
        #expect(try fixture.row().state == .pending)
        #expect(try fixture.spool.complete(handler: "crm", owner: "P.2", results: [(second[0].eventID, 0, .delivered)]).isEmpty)
        #expect(try fixture.row().state == .delivered)
    }

    @Test("a lease that ran out with nobody taking over still records its outcome")
    func expiredButNotTakenOver() throws {
        let fixture = try Fixture(events: 2)
        defer { fixture.remove() }
        let claims = try fixture.claim("A.1", at: 0)
        try #require(claims.count == 2)
        #expect(try fixture.spool.renewLease(handler: "crm", owner: "A.1", eventIDs: claims.map(\.eventID), leaseNow: 10 * Fixture.lease) == 2)
        let lost = try fixture.spool.complete(handler: "crm", owner: "A.1", results: claims.map { ($0.eventID, $0.attempts, .delivered) })
        #expect(lost.isEmpty)
        #expect(try fixture.spool.list(state: .delivered).count == 2)
    }

    @Test("a released claim is free at once, for the claim's owner only, and in doubt for the next")
    func release() throws {
        let fixture = try Fixture(events: 2)
        defer { fixture.remove() }
        let claims = try fixture.claim("A.1", at: 0)
        try #require(claims.count == 2)
        try fixture.spool.release(handler: "crm", owner: "B.1", eventIDs: claims.map(\.eventID))
        #expect(try fixture.claim("B.1", at: 1).isEmpty, "only the claim's owner releases it")
        try fixture.spool.release(handler: "crm", owner: "A.1", eventIDs: claims.map(\.eventID))
        let again = try fixture.claim("B.2", at: 2)
        #expect(again.count == 2 && again.allSatisfy { $0.inDoubt })
    }

    @Test("the next due time of a held delivery is its lease's end, in wall-clock time")
    func nextDueOfAHeldDelivery() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        #expect(try fixture.spool.nextDue(handler: "crm", now: fixture.now, leaseNow: 0) == fixture.now)
        _ = try fixture.claim("A.1", at: 0)
        #expect(try fixture.spool.nextDue(handler: "crm", now: fixture.now + 5, leaseNow: 400) == fixture.now + 5 + Fixture.lease - 400)
        #expect(try fixture.spool.nextDue(handler: "crm", now: fixture.now + 5, leaseNow: 10 * Fixture.lease) == fixture.now)
    }
}
