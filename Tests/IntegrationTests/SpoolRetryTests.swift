import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The dispatcher against a backend that fails: retries on the configured schedule, dead
/// letters and `spool retry`, `Retry-After`, permanent failures. The backend is the recorder
/// (Fixtures/recorder.py) behind an `http` handler; events arrive through nginx.
@Suite("spool: retries, dead letters, Retry-After")
struct SpoolRetryTests {
    /// The recorded requests grouped by the event's transaction id, in arrival order.
    static func byTransaction(_ requests: [RecordedRequest]) -> [String: [RecordedRequest]] {
        Dictionary(grouping: requests) { $0.transactionID ?? "(none)" }
    }

    @Test("backend answers 500 for a while: retried on the schedule (1s, 1s, 2s), all delivered after recovery")
    func backendDownThenRecovers() async throws {
        let bench = try TestBench("backend-down")
        defer { bench.tearDown() }
        // Each event fails twice and succeeds on its third attempt: counted by its
        // Idempotency-Key, so a loaded machine's interleaving doesn't move the 500s around.
        let recorder = try await bench.recorder(plan: #"{"count_by":"Idempotency-Key","steps":[{"status":500,"times":2},{"status":200}]}"#)
        let stack = try await bench.stack(config: TestBench.spoolConfig(retry: "[1s, 1s, 2s]", jsonl: false, handlers: recorder.crmHandler(options: ["timeout: 5s"])))

        let ids = ["tx-down-1", "tx-down-2", "tx-down-3"]
        for id in ids { try await stack.postAccepted(contactForm(id)) }
        let status = try await stack.cli.waitUntilSettled(delivered: ids.count, timeout: 30)
        #expect(status["crm"]?["delivered"] == ids.count, "\(status)")
        #expect(status["crm"]?["dead"] == 0, "\(status)")

        let requests = try recorder.requests()
        #expect(requests.filter { $0.status == 500 }.count == 6, "\(requests)")
        let grouped = Self.byTransaction(requests)
        #expect(Set(grouped.keys) == Set(ids), "the backend saw other bodies: \(grouped.keys.sorted())")
        let schedule = [1.0, 1.0, 2.0]
        let rows = try stack.cli.list(handler: "crm")
        var keys: Set<String> = []
        for id in ids {
            let attempts = grouped[id] ?? []
            // Every attempt for one event carries the same Idempotency-Key, and no other event's.
            let eventKeys = Set(attempts.map { $0.header("Idempotency-Key") ?? "(none)" })
            #expect(eventKeys.count == 1 && !eventKeys.contains("(none)"), "\(id): Idempotency-Key by attempt: \(eventKeys)")
            keys.formUnion(eventKeys)
            // Delivered exactly once (one 200), after its failures.
            #expect(attempts.filter { $0.status == 200 }.count == 1, "\(id): \(attempts)")
            #expect(attempts.last?.status == 200, "\(id): \(attempts)")
            #expect(attempts.count == 3, "\(id): two 500s, then the 200: \(attempts)")
            // Each retry waited its delay (a little slack for clock reading), and not absurdly longer.
            for (number, pair) in zip(attempts, attempts.dropFirst()).enumerated() {
                let gap = pair.1.time - pair.0.time
                let delay = schedule[min(number, schedule.count - 1)]
                #expect(gap >= delay - 0.15, "\(id): retry \(number + 1) came \(gap) s after the attempt before, the schedule says \(delay) s")
                #expect(gap <= delay + 5, "\(id): retry \(number + 1) came only \(gap) s later, the schedule says \(delay) s")
            }
            let row = rows.first { $0["transactionid"] as? String == id }
            #expect(row?["state"] as? String == "delivered", "\(String(describing: row))")
            #expect(row?["attempts"] as? Int == attempts.count, "spool attempts differ from the requests the backend saw: \(String(describing: row))")
            #expect(row?["last_error"] is NSNull, "a delivered row keeps an error: \(String(describing: row))")
        }
        #expect(keys.count == ids.count, "one Idempotency-Key per event: \(keys)")
    }

    @Test("backend always 500: dead letters after the last attempt; fixed backend + `spool retry --all-dead` delivers them")
    func deadLettersThenRetry() async throws {
        let bench = try TestBench("dead-letters")
        defer { bench.tearDown() }
        let recorder = try await bench.recorder(plan: #"{"steps":[{"status":500,"body":"{\"error\":\"db down\"}"}]}"#)
        let stack = try await bench.stack(config: TestBench.spoolConfig(retry: "[500ms, 500ms]", jsonl: false, handlers: recorder.crmHandler()))

        let ids = ["tx-dead-1", "tx-dead-2"]
        for id in ids { try await stack.postAccepted(contactForm(id)) }
        let dead = try await stack.cli.waitForRows(state: "dead", timeout: 60, "two dead letters") { $0.count == 2 }
        #expect(Set(dead.compactMap { $0["transactionid"] as? String }) == Set(ids), "\(dead)")
        for row in dead {
            #expect(row["handler"] as? String == "crm")
            #expect(row["attempts"] as? Int == 3, "three attempts (the first and two retries): \(row)")
            let error = row["last_error"] as? String ?? ""
            #expect(error.contains("500") && error.contains("db down"), "last_error should carry the status and the answer: \(error)")
        }
        // A dead letter is not retried by itself.
        try await pause(1.5)
        var grouped = Self.byTransaction(try recorder.requests())
        for id in ids { #expect(grouped[id]?.count == 3, "\(id): \(String(describing: grouped[id]))") }
        let status = try stack.cli.status()
        #expect(status["crm"] == ["pending": 0, "delivered": 0, "failed": 0, "dead": 2], "\(status)")

        // The backend is fixed; the operator replays the dead letters.
        try recorder.setPlan(#"{"steps":[{"status":200}]}"#)
        let retried = try stack.cli.json(["spool", "retry", "--all-dead"]) as? [String: Any]
        #expect(retried?["requeued"] as? Int == 2, "\(String(describing: retried))")
        let settled = try await stack.cli.waitUntilSettled(delivered: 2)
        #expect(settled["crm"] == ["pending": 0, "delivered": 2, "failed": 0, "dead": 0], "\(settled)")
        #expect(try stack.cli.list(state: "dead").isEmpty)
        grouped = Self.byTransaction(try recorder.requests())
        for id in ids {
            let attempts = grouped[id] ?? []
            #expect(attempts.count == 4 && attempts.last?.status == 200, "\(id): \(attempts)")
        }
        // `spool show` tells the story of one event: the stored event and its delivery.
        let row = try #require(try stack.cli.list(handler: "crm").first)
        let shown = try stack.cli.show(rowID(row))
        let deliveries = shown["deliveries"] as? [[String: Any]] ?? []
        #expect(deliveries.count == 1 && deliveries.first?["state"] as? String == "delivered", "\(shown)")
        #expect((shown["event"] as? [String: Any])?["transactionid"] as? String == row["transactionid"] as? String, "\(shown)")
    }

    @Test("429 with Retry-After: 2 waits 2 s despite a 200 ms schedule; 400 is dead at once with the answer in last_error")
    func retryAfterAndPermanentFailure() async throws {
        let bench = try TestBench("retry-after")
        defer { bench.tearDown() }
        let recorder = try await bench.recorder(plan: """
            {"paths": {
              "/limited": [{"status": 429, "times": 1, "headers": {"Retry-After": "2"}, "body": "{\\"message\\":\\"slow down\\"}"},
                           {"status": 200}],
              "/invalid": [{"status": 400, "body": "{\\"message\\":\\"Property values were not valid: email\\"}"}]
            }}
            """)
        let stack = try await bench.stack(config: TestBench.spoolConfig(retry: "[200ms, 200ms, 200ms]", jsonl: false, handlers: """
                  - type: http
                    name: limited
                    url: "\(recorder.url)/limited"
                  - type: http
                    name: invalid
                    url: "\(recorder.url)/invalid"

                """))

        try await stack.postAccepted(contactForm("tx-limits-1"))
        let requests = try await recorder.waitFor(timeout: 20, "a 200 on /limited") { requests in
            requests.contains { $0.path == "/limited" && $0.status == 200 }
        }
        let limited = requests.filter { $0.path == "/limited" }
        #expect(limited.map(\.status) == [429, 200], "\(limited)")
        if limited.count == 2 {
            let gap = limited[1].time - limited[0].time
            #expect(gap >= 1.9, "the retry came \(gap) s after a 429 with Retry-After: 2")
            #expect(gap < 8, "the retry came \(gap) s after a 429 with Retry-After: 2")
        }
        // Meanwhile (2 s, ten times the schedule's delay) the 400 was never retried.
        let invalid = requests.filter { $0.path == "/invalid" }
        #expect(invalid.count == 1, "a 400 must not be retried: \(invalid)")
        let dead = try stack.cli.list(state: "dead", handler: "invalid")
        #expect(dead.count == 1, "\(dead)")
        #expect(dead.first?["attempts"] as? Int == 1, "\(dead)")
        let error = dead.first?["last_error"] as? String ?? ""
        #expect(error.contains("400") && error.contains("Property values were not valid: email"), "last_error: \(error)")
        let status = try await stack.cli.waitUntilSettled(delivered: 1)
        #expect(status["limited"]?["delivered"] == 1 && status["invalid"]?["dead"] == 1, "\(status)")
    }
}
