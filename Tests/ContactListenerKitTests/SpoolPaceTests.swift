import Foundation
import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime

/// A handler's pace in the spool: its `rate:` bucket, shared by every process on the file,
/// and the pause a backend asks for with `Retry-After`.
@Suite("Spool: rate limits and a backend's pause")
struct SpoolPaceTests {
    static let rates: [(String, DeliveryRate?)] = [
        ("10/s", DeliveryRate(count: 10, period: 1_000)),
        ("190/10s", DeliveryRate(count: 190, period: 10_000)),
        ("300/m", DeliveryRate(count: 300, period: 60_000)),
        ("5000/1h", DeliveryRate(count: 5_000, period: 3_600_000)),
        (" 5 / 100ms ", DeliveryRate(count: 5, period: 100)),
        ("0/s", nil), ("-1/s", nil), ("10", nil), ("10/", nil), ("/s", nil), ("10/0s", nil),
        ("10/50ms", nil), ("10/2d", nil), ("ten/s", nil), ("10/s/s", nil), ("1000001/s", nil),
        // Durations past Int64, or not numbers, are none (they trapped on conversion).
        ("10/1e20ms", nil), ("10/infs", nil), ("10/nans", nil), ("10/1e300h", nil),
    ]

    @Test("rate: parsed as a count per period, or refused", arguments: rates)
    func parse(text: String, expected: DeliveryRate?) {
        #expect(DeliveryRate(text) == expected, "\(text)")
    }

    /// (config, the rate of handler `crm`, or a part of the error `check-config` prints).
    enum Expected: Sendable { case rate(DeliveryRate), error(String) }

    static let configs: [(String, String, Expected)] = [
        ("with a spool", "spool: s.db\nhandlers:\n  - type: jsonl\n    name: crm\n    path: e.jsonl\n    rate: 190/10s\n",
         .rate(DeliveryRate(count: 190, period: 10_000))),
        ("without a spool", "handlers:\n  - type: jsonl\n    name: crm\n    path: e.jsonl\n    rate: 10/s\n",
         .error("a rate needs the spool")),
        ("not a rate", "spool: s.db\nhandlers:\n  - type: jsonl\n    name: crm\n    path: e.jsonl\n    rate: fast\n",
         .error("expected a rate like 10/s")),
    ]

    @Test("rate: in the configuration", arguments: configs)
    func configured(name: String, yaml: String, expected: Expected) {
        do {
            let configuration = try ListenerConfiguration.parse(yaml, file: "test.yaml", baseDirectory: "/tmp", environment: [:])
            guard case .rate(let rate) = expected else { Issue.record("\(name): accepted"); return }
            #expect(configuration.rates["crm"] == rate, "\(name)")
        } catch {
            guard case .error(let part) = expected else { Issue.record("\(name): \(error)"); return }
            #expect("\(error)".contains(part) && "\(error)".contains("rate"), "\(name): \(error)")
        }
    }

    /// A spool with one handler, `crm`, holding `events` events, and the time they were stored.
    static func spool(events: Int, folder: String) throws -> (Spool, Int64) {
        let spool = try Spool(configuration: SpoolConfiguration(path: "\(folder)/spool.db"), handlerNames: ["crm"])
        let now = Clock.milliseconds()
        // Stored a day ago: due at every time the tests claim at, before now included.
        _ = try spool.store((0..<events).map { Spool.Item(dedupKey: nil, transactionID: "t\($0)", requestID: "r\($0)", json: Array("{}".utf8)) }, now: now - 86_400_000)
        return (spool, now)
    }

    static func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("cl-pace-\(UUID().uuidString)").path
    }

    /// (ms after the first claim, how many a claim of up to 10 gets) with `rate: 5/s`: an
    /// even pace, one delivery per 200 ms; every step claims, taking what the bucket holds.
    static let bucketSteps: [(String, [(at: Int64, claims: Int)])] = [
        ("one at once, then one per 200 ms", [(0, 1), (0, 0), (199, 0), (200, 1), (400, 1), (500, 0), (600, 1)]),
        ("never a burst, however long it waited", [(0, 1), (60_000, 1), (60_000, 0)]),
        ("a clock that went back: one delivery, then the pace from there", [(0, 1), (-5_000, 1), (-5_000, 0), (-4_900, 0), (-4_800, 1)]),
        ("a clock that jumped ahead, then back: the pace goes on", [(0, 1), (86_400_000, 1), (200, 1), (300, 0), (400, 1)]),
    ]

    @Test("a claim takes no more than the bucket's whole tokens", arguments: bucketSteps)
    func bucket(name: String, steps: [(at: Int64, claims: Int)]) throws {
        let folder = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (spool, start) = try Self.spool(events: 40, folder: folder)
        defer { spool.close() }
        let rate = try #require(DeliveryRate("5/s"))
        for (number, step) in steps.enumerated() {
            let claims = try spool.claim(handler: "crm", owner: "o\(number)", limit: 10, now: start + step.at, rate: rate)
            #expect(claims.count == step.claims, "\(name), step \(number) at +\(step.at) ms")
            _ = try spool.complete(handler: "crm", owner: "o\(number)", results: claims.map { ($0.eventID, $0.attempts, .delivered) }, now: start + step.at)
        }
    }

    @Test("two processes on one spool share one bucket")
    func sharedBucket() throws {
        let folder = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (first, start) = try Self.spool(events: 20, folder: folder)
        defer { first.close() }
        let second = try Spool(configuration: SpoolConfiguration(path: "\(folder)/spool.db"), handlerNames: ["crm"])
        defer { second.close() }
        let rate = try #require(DeliveryRate("5/s"))
        #expect(try first.claim(handler: "crm", owner: "a", limit: 3, now: start, rate: rate).count == 1)
        #expect(try second.claim(handler: "crm", owner: "b", limit: 10, now: start + 100, rate: rate).isEmpty)
        #expect(try second.claim(handler: "crm", owner: "b", limit: 10, now: start + 200, rate: rate).count == 1)
        #expect(try first.claim(handler: "crm", owner: "c", limit: 10, now: start + 200, rate: rate).isEmpty)
        // The next token is 200 ms away, and the dispatcher sleeps until then.
        #expect(try second.nextDue(handler: "crm", now: start + 200, rate: rate) == start + 400)
    }

    /// A failed attempt with `retryAfter` pauses the handler for every event; one without,
    /// or a permanent failure, pauses nothing.
    static let pauses: [(String, Spool.AttemptResult, pausedUntil: Int64?)] = [
        ("429 with Retry-After: 2", .failed("429", permanent: false, retryAfter: 2_000), 2_000),
        ("500 without Retry-After", .failed("500", permanent: false), nil),
        ("400 (a dead letter)", .failed("400", permanent: true, retryAfter: 2_000), nil),
    ]

    @Test("a pause recorded while the clock ran a year ahead holds nothing once the clock is right")
    func pauseAfterAClockStep() throws {
        let folder = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (spool, start) = try Self.spool(events: 3, folder: folder)
        defer { spool.close() }
        let ahead = start + 365 * 86_400_000
        let first = try spool.claim(handler: "crm", owner: "a", limit: 1, now: ahead)
        try #require(first.count == 1)
        _ = try spool.complete(handler: "crm", owner: "a", results: [(first[0].eventID, 0, .failed("429", permanent: false, retryAfter: 2_000))], now: ahead)
        // A pause is never recorded longer than `maxPause`: ahead of now by more, it is from a
        // clock that ran ahead, and the clock is right again.
        #expect(try spool.nextDue(handler: "crm", now: start) == start - 86_400_000)
        #expect(try spool.claim(handler: "crm", owner: "b", limit: 10, now: start).count == 2)
    }

    @Test("a backend's pause holds every delivery of the handler", arguments: pauses)
    func pause(name: String, result: Spool.AttemptResult, pausedUntil: Int64?) throws {
        let folder = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (spool, start) = try Self.spool(events: 3, folder: folder)
        defer { spool.close() }
        let first = try spool.claim(handler: "crm", owner: "a", limit: 1, now: start)
        try #require(first.count == 1)
        _ = try spool.complete(handler: "crm", owner: "a", results: [(first[0].eventID, 0, result)], now: start)
        if let pausedUntil {
            #expect(try spool.claim(handler: "crm", owner: "b", limit: 10, now: start + pausedUntil - 1).isEmpty, "\(name): claimed during the pause")
            #expect(try spool.nextDue(handler: "crm", now: start) == start + pausedUntil, "\(name)")
            // The other two; the first waits for its own retry (5 s on the default schedule).
            #expect(try spool.claim(handler: "crm", owner: "c", limit: 10, now: start + pausedUntil).count == 2, "\(name): the pause is over")
        } else {
            #expect(try spool.claim(handler: "crm", owner: "b", limit: 10, now: start).count == 2, "\(name): the other events wait for nothing")
        }
    }
}
