import Foundation
import Logging
import Synchronization
import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerSQL
@testable import ContactListenerHTTP
@testable import ListenerSupport

/// A batch's lease as the dispatcher and the handlers see it: checked before each delivery
/// (from memory while fresh, renewed when overdue), lost for good once a renewal finds
/// deliveries taken over or fails; a batch cut short there; a heartbeat that can't start.
@Suite("Spool: a batch's lease")
struct BatchLeaseTests {
    /// A lease clock the test moves, and a renewal whose answer it sets.
    final class Stage: Sendable {
        let now = Atomic<Int64>(0)
        let renewals = Atomic<Int>(0)
        /// What the renewal answers: how many it renewed, or -1 to throw.
        let answer = Atomic<Int>(3)

        func lease(length: Int64 = 900, count: Int = 3) -> BatchLease {
            BatchLease(handler: "crm", count: count, length: length, claimedAt: now.load(ordering: .relaxed),
                       clock: { self.now.load(ordering: .relaxed) }) { _ in
                self.renewals.add(1, ordering: .relaxed)
                let answer = self.answer.load(ordering: .relaxed)
                if answer < 0 { throw SystemError("fsync", "spool.db", code: EIO) }
                return answer
            }
        }
    }

    /// (clock after the claim, renewal's answer, held?, renewals made): fresh for two thirds
    /// of the lease, then renewed before an answer is given.
    static let checkCases: [(name: String, after: Int64, answer: Int, held: Bool, renewals: Int)] = [
        ("fresh: no query", 599, 3, true, 0),
        ("overdue, renewed in full", 600, 3, true, 1),
        ("past its end, renewed in full (nobody took it)", 5_000, 3, true, 1),
        ("overdue, 2 of 3 renewed: taken over", 600, 2, false, 1),
        ("overdue, none renewed", 5_000, 0, false, 1),
        ("overdue, the renewal fails", 600, -1, false, 1),
    ]

    @Test(arguments: checkCases)
    func check(_ example: (name: String, after: Int64, answer: Int, held: Bool, renewals: Int)) {
        let stage = Stage()
        let lease = stage.lease()
        stage.answer.store(example.answer, ordering: .relaxed)
        stage.now.store(example.after, ordering: .relaxed)
        #expect(lease.isHeld() == example.held, "\(example.name)")
        #expect(stage.renewals.load(ordering: .relaxed) == example.renewals, "\(example.name)")
        #expect((lease.lost == nil) == example.held)
        // Renewed: fresh again from the renewal. Lost: for good, without another query.
        stage.answer.store(3, ordering: .relaxed)
        #expect(lease.isHeld() == example.held)
        #expect(stage.renewals.load(ordering: .relaxed) == example.renewals, "\(example.name): no second query")
    }

    /// Records what it was handed; its first delivery stalls the process past the lease.
    final class StallingHandler: ContactHandler {
        let name = "crm"
        let stage: Stage
        let handed = Mutex<[String]>([])
        init(stage: Stage) { self.stage = stage }

        func handle(_ delivery: Delivery) throws {
            handed.withLock { $0.append(delivery.event.metadata.requestID) }
            stage.now.add(10_000, ordering: .relaxed)
        }
    }

    @Test("the default handle(batch:) hands nothing more once the lease is lost, behind a map: as well", arguments: [false, true])
    func batchCutShort(mapped: Bool) throws {
        let stage = Stage()
        let lease = stage.lease()
        stage.answer.store(0, ordering: .relaxed)
        let batch = (1...3).map { index in
            var delivery = Delivery(storedJSON: Array("{}".utf8), requestID: "req-\(index)", inDoubt: false)
            delivery.lease = BatchLease.Ticket(lease: lease, eventID: Int64(index))
            return delivery
        }
        let inner = StallingHandler(stage: stage)
        let handler: any ContactHandler = mapped ? MappedHandler(inner, mapping: FieldMapping()) : inner
        let results = handler.handle(batch: batch)
        #expect(inner.handed.withLock { $0 } == ["req-1"])
        let lost = results.compactMap { result -> Int64? in
            if case .failure(let error as BatchLease.Lost) = result { return error.eventID } else { return nil }
        }
        #expect(lost == [2, 3], "\(results)")
        #expect(lease.lost?.contains("renewed 0 of 3 deliveries") == true)
    }

    @Test("outside the spool a delivery has no lease to lose")
    func noLease() throws {
        try Delivery(storedJSON: Array("{}".utf8), requestID: "r", inDoubt: false).checkLease()
    }

    /// Records every delivery it is handed.
    final class RecordingHandler: ContactHandler {
        let name = "crm"
        let handed = Mutex<[String]>([])
        var needsEvent: Bool { false }
        func handle(_ delivery: Delivery) throws {
            handed.withLock { $0.append(delivery.event.metadata.requestID) }
        }
    }

    @Test("a lease heartbeat that can't start delivers nothing and frees the batch at once")
    func heartbeatThatCannotStart() throws {
        let fixture = try SpoolClaimTests.Fixture(events: 2)
        defer { fixture.remove() }
        let handler = RecordingHandler()
        let dispatcher = Dispatcher(spool: fixture.spool, handlers: [handler], logger: Logger(label: "test"), owner: "P") { _ throws(SystemError) in
            throw SystemError("pthread_create", "worker", code: EAGAIN)
        }
        dispatcher.drain(until: Timestamp.monotonicNanoseconds() + 2_000_000_000)
        #expect(handler.handed.withLock { $0 }.isEmpty)
        let entries = try fixture.spool.list(handler: "crm")
        #expect(entries.count == 2 && entries.allSatisfy { $0.state == .pending && $0.attempts == 0 }, "\(entries)")
        #expect(try fixture.spool.claim(handler: "crm", owner: "Q.1", limit: 10).count == 2, "released, not left to its lease")
    }
}
