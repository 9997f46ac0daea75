import Foundation
import Testing
@preconcurrency import GRDB
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ListenerSupport

/// The spool and its dispatcher in process: events stored through the pipeline's sink on a
/// temporary file, delivered by `drain` to recording handlers, with retries and dead letters.
@Suite("core: spool and dispatcher with recording handlers")
struct DispatcherTests {
    /// A spool in a fresh folder with `retry` (ms between attempts) for `handlers`.
    static func spool(_ tag: String, retry: [Int64], handlers: [String]) throws -> Spool {
        var configuration = SpoolConfiguration(path: try CoreFixture.folder(tag) + "/spool.db")
        configuration.retry.delays = retry
        configuration.retry.jitter = 0
        return try Spool(configuration: configuration, handlerNames: handlers)
    }

    /// Stores `ids` through the spool's sink, as the pipeline does.
    static func store(_ ids: [String], in spool: Spool) throws {
        let sink = SpoolSink(writer: SpoolWriter(spool: spool)) {}
        let pipeline = RequestPipeline(configuration: try CoreFixture.configuration(""), sink: sink, logger: CoreFixture.quietLogger, spool: spool, board: nil)
        for id in ids {
            let response = pipeline.respond(to: CoreFixture.request(body: "transactionid=\(id)"))
            #expect(response.status == 200)
        }
    }

    /// Drains until nothing is due (at most `rounds` times, `pause` ms apart, for retries).
    static func drain(_ dispatcher: Dispatcher, rounds: Int = 1, pause: UInt32 = 0) {
        for _ in 0..<rounds {
            dispatcher.drain(until: Timestamp.monotonicNanoseconds() + 5_000_000_000)
            if pause > 0 { usleep(pause * 1000) }
        }
    }

    @Test("each handler gets every event once, independently")
    func deliversToEachHandler() throws {
        let spool = try Self.spool("disp-each", retry: [10], handlers: ["a", "b"])
        defer { spool.close() }
        try Self.store(["e-1", "e-2", "e-3"], in: spool)
        let a = RecordingHandler(name: "a"), b = RecordingHandler(name: "b")
        Self.drain(Dispatcher(spool: spool, handlers: [a, b], logger: CoreFixture.quietLogger, owner: "test"))
        #expect(a.attempts.sorted() == ["e-1", "e-2", "e-3"])
        #expect(b.attempts.sorted() == ["e-1", "e-2", "e-3"])
        #expect(try spool.status().count("a", .delivered) == 3 && spool.status().count("b", .delivered) == 3)
    }

    /// (failures before success, permanent?, attempts allowed: retry delays + 1, final state).
    static let outcomes: [(Int, Bool, Int, DeliveryState)] = [
        (0, false, 3, .delivered), (2, false, 3, .delivered), (3, false, 3, .dead), (1, true, 3, .dead),
    ]

    @Test("retried on the schedule until delivered, or dead when attempts run out or the failure is permanent", arguments: outcomes)
    func retries(failures: Int, permanent: Bool, allowed: Int, final: DeliveryState) throws {
        let spool = try Self.spool("disp-retry", retry: Array(repeating: 20, count: allowed - 1), handlers: ["h"])
        defer { spool.close() }
        try Self.store(["r-1"], in: spool)
        let handler = RecordingHandler(name: "h", failures: failures, permanent: permanent)
        Self.drain(Dispatcher(spool: spool, handlers: [handler], logger: CoreFixture.quietLogger, owner: "test"), rounds: allowed + 1, pause: 40)
        let counts = try spool.status()
        #expect(counts.count("h", final) == 1, "\(counts.entries)")
        let expectedAttempts = permanent ? 1 : min(failures + 1, allowed)
        #expect(handler.attempts.count == expectedAttempts, "\(handler.attempts)")
    }

    @Test("a dead letter goes again after `spool retry`")
    func retryADeadLetter() throws {
        let spool = try Self.spool("disp-dead", retry: [], handlers: ["h"])
        defer { spool.close() }
        try Self.store(["d-1"], in: spool)
        let handler = RecordingHandler(name: "h", failures: 1)
        let dispatcher = Dispatcher(spool: spool, handlers: [handler], logger: CoreFixture.quietLogger, owner: "test")
        Self.drain(dispatcher)
        #expect(try spool.status().count("h", .dead) == 1)
        #expect(try spool.retry(eventID: nil, handler: "h") == 1)
        Self.drain(dispatcher)
        #expect(try spool.status().count("h", .delivered) == 1)
        #expect(handler.attempts == ["d-1", "d-1"])
    }

    @Test("the event's JSON is kept as the bytes written; a row a spool kept as TEXT reads back alike")
    func storedBytesAndOlderTextRows() throws {
        let spool = try Self.spool("disp-bytes", retry: [10], handlers: ["h"])
        defer { spool.close() }
        try Self.store(["b-1", "b-2"], in: spool)
        let types = try spool.database.read { db in try String.fetchAll(db, sql: "SELECT typeof(json) FROM events ORDER BY id") }
        #expect(types == ["blob", "blob"])
        // As a spool written before the bytes were kept holds it.
        try spool.database.write { db in try db.execute(sql: "UPDATE events SET json = CAST(json AS TEXT) WHERE transaction_id = 'b-2'") }
        let handler = RecordingHandler(name: "h")
        Self.drain(Dispatcher(spool: spool, handlers: [handler], logger: CoreFixture.quietLogger, owner: "test"))
        #expect(handler.attempts.sorted() == ["b-1", "b-2"])
        #expect(try spool.status().count("h", .delivered) == 2)
    }
}
