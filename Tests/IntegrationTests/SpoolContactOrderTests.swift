import Foundation
import Testing

/// Per-contact order through the real binary: events arrive through nginx, the spool
/// delivers them to the recorder (Fixtures/recorder.py) behind an `http` handler, and the
/// recorder fails one contact's first event twice.
@Suite("spool: a contact's events reach the CRM in the order received")
struct SpoolContactOrderTests {
    @Test("Ann's first event fails until Bob's is delivered: Ann's events arrive in order, Bob's does not wait")
    func failingFirstEventKeepsOrder() async throws {
        let bench = try TestBench("contact-order")
        defer { bench.tearDown() }
        // Ann's first event fails until the test rewrites the plan, which it does once Bob's
        // event has been delivered: whatever the machine's load, Bob's went while Ann's first
        // was failing.
        let failing = """
            {"bodies": [{"contains": "tx-order-ann-1", "steps": [{"status": 500}]}], "steps": [{"status": 200}]}
            """
        let recorder = try await bench.recorder(plan: failing)
        // A retry every second for two minutes: Ann's first event is still failing, not dead,
        // when the plan changes, however loaded the machine is.
        let retries = Array(repeating: "1s", count: 120).joined(separator: ", ")
        let stack = try await bench.stack(config: TestBench.spoolConfig(retry: "[\(retries)]", jsonl: false, handlers: recorder.crmHandler()))

        let sent: [(id: String, email: String)] = [
            ("tx-order-ann-1", "ann@example.com"), ("tx-order-ann-2", "ann@example.com"),
            ("tx-order-bob-1", "bob@example.com"), ("tx-order-ann-3", "ANN@example.com"),
        ]
        for event in sent { try await stack.postAccepted(contactForm(event.id, email: event.email)) }
        var seen: [RecordedRequest] = []
        for _ in 0..<300 where !seen.contains(where: { $0.transactionID == "tx-order-bob-1" && $0.status == 200 }) {
            try await pause(0.1)
            seen = try recorder.requests()
        }
        #expect(seen.contains { $0.transactionID == "tx-order-bob-1" && $0.status == 200 }, "Bob's event waited for Ann's: \(seen)")
        #expect(!seen.contains { $0.transactionID == "tx-order-ann-2" || $0.transactionID == "tx-order-ann-3" },
                "Ann's later events went while her first was failing: \(seen)")
        try recorder.setPlan(#"{"steps": [{"status": 200}]}"#)
        let status = try await stack.cli.waitUntilSettled(delivered: sent.count, timeout: 60)
        #expect(status["crm"]?["delivered"] == sent.count && status["crm"]?["dead"] == 0, "\(status)")

        let ann = try recorder.requests().filter { $0.transactionID?.hasPrefix("tx-order-ann") == true }
        // Ann's attempts, failed or not, in the order her events were received: her first
        // (500s, then a 200), then the second, then the third.
        let order = ann.map { $0.transactionID ?? "" }
        #expect(ann.count >= 4 && order.dropLast(2).allSatisfy { $0 == "tx-order-ann-1" } && Array(order.suffix(2)) == ["tx-order-ann-2", "tx-order-ann-3"],
                "Ann's attempts out of order: \(ann)")
        #expect(ann.dropLast(3).allSatisfy { $0.status == 500 } && ann.suffix(3).allSatisfy { $0.status == 200 }, "\(ann)")
    }
}
