import Foundation
import Testing

/// A handler's `rate:` and a backend's pause through the real binary: events arrive through
/// nginx, the spool delivers them to the recorder (Fixtures/recorder.py), which plays a
/// CRM's rate limit.
@Suite("spool: rate limits and Retry-After pause the whole handler")
struct SpoolRateTests {
    @Test("200 events into a handler limited to 20/s: about 10 s, and no 429 from a CRM that allows 22 in any second")
    func rateLimited() async throws {
        let bench = try TestBench("rate-limit")
        defer { bench.tearDown() }
        // The recorder answers 429 past 22 requests in any second: the handler's 20/s with a
        // margin for the network's jitter (an evenly paced sender puts 20 in each second).
        let recorder = try await bench.recorder(plan: #"{"window": {"count": 22, "seconds": 1}, "steps": [{"status": 200}]}"#)
        let stack = try await bench.stack(config: TestBench.spoolConfig(retry: "[1s]", jsonl: false, handlers: recorder.crmHandler(options: ["rate: 20/s"])))
        let count = 200
        // Sent ten at a time, far faster than 20/s: without the rate, the CRM would see a burst.
        let posting = Date()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<10 {
                group.addTask {
                    for number in stride(from: worker, to: count, by: 10) {
                        _ = try await stack.postAccepted(contactForm("tx-rate-\(number)", email: "c\(number)@example.com"))
                    }
                }
            }
            try await group.waitForAll()
        }
        let posted = Date().timeIntervalSince(posting)
        let status = try await stack.cli.waitUntilSettled(delivered: count, timeout: 180)
        #expect(status["crm"]?["delivered"] == count, "\(status)")

        let requests = try recorder.requests()
        #expect(requests.filter { $0.status == 429 }.isEmpty, "the CRM's limit was hit: \(requests.filter { $0.status == 429 }.prefix(3))")
        #expect(requests.count == count, "one request per event: \(requests.count)")
        let times = requests.map(\.time).sorted()
        let span = (times.last ?? 0) - (times.first ?? 0)
        // One every 50 ms: 199 gaps make 9.95 s, less the network's jitter. (No upper bound: on
        // a loaded machine the posting itself can take longer than the pace.)
        #expect(span >= 9.5, "200 deliveries in \(span) s: faster than 20/s (posted in \(posted) s)")
    }

    @Test("a 429 with Retry-After: 2 for one event: no request from the handler for 2 s, then all delivered")
    func retryAfterPausesTheHandler() async throws {
        let bench = try TestBench("rate-pause")
        defer { bench.tearDown() }
        let recorder = try await bench.recorder(plan: """
            {"steps": [{"status": 429, "times": 1, "headers": {"Retry-After": "2"}, "body": "{\\"message\\":\\"slow down\\"}"},
                       {"status": 200}]}
            """)
        // A 200 ms schedule: only the pause can explain a 2 s silence.
        let stack = try await bench.stack(config: TestBench.spoolConfig(retry: "[200ms, 200ms, 200ms]", jsonl: false, handlers: recorder.crmHandler()))
        let ids = (0..<6).map { "tx-pause-\($0)" }
        for (number, id) in ids.enumerated() { try await stack.postAccepted(contactForm(id, email: "p\(number)@example.com")) }
        let status = try await stack.cli.waitUntilSettled(delivered: ids.count, timeout: 60)
        #expect(status["crm"]?["delivered"] == ids.count && status["crm"]?["dead"] == 0, "\(status)")

        let requests = try recorder.requests().sorted { $0.time < $1.time }
        let limited = try #require(requests.first { $0.status == 429 }, "\(requests)")
        let after = requests.filter { $0.time > limited.time }
        #expect(!after.isEmpty, "\(requests)")
        if let next = after.first {
            #expect(next.time - limited.time >= 1.9, "the handler sent again \(next.time - limited.time) s after a 429 asking for 2 s: \(requests)")
        }
        // Every event delivered once; the one refused, once more (its attempt counted, the
        // rest of its batch given back untried).
        #expect(requests.filter { $0.status == 200 }.count == ids.count, "\(requests)")
        let rows = try stack.cli.list(handler: "crm")
        let attempts = rows.compactMap { $0["attempts"] as? Int }.sorted()
        #expect(attempts == [1, 1, 1, 1, 1, 2], "only the refused event has two attempts: \(rows)")
    }
}
