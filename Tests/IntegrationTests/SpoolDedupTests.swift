import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Deduplication on the transaction id: a replay is acknowledged (`"duplicate":true`) but
/// stored and delivered once; after `dedup_window` the id is new again.
@Suite("spool: deduplication")
struct SpoolDedupTests {
    @Test("the same transactionid twice: second answer duplicate:true, one stored event, one delivery per handler")
    func duplicateTransaction() async throws {
        let bench = try TestBench("dedup")
        defer { bench.tearDown() }
        let directory = bench.directory
        let recorder = try await bench.recorder()
        let stack = try await bench.stack(config: TestBench.spoolConfig(options: ["dedup_window: 15s"], handlers: recorder.crmHandler()))

        // 15 s: with the whole suite running in parallel on 2 cores, one request has taken
        // more than 8 s; the replay must still come well within the window.
        let window = 15.0
        let first = try await stack.postAccepted(contactForm("tx-dup-1", email: "first@example.com"))
        let firstAnswered = Date()  // the window started before this
        #expect(first["duplicate"] == nil, "\(first)")
        // The replay (even with other content) is acknowledged as a duplicate.
        let second = try await stack.postAccepted(contactForm("tx-dup-1", email: "second@example.com"))
        let replayAfter = Date().timeIntervalSince(firstAnswered)
        #expect(second["duplicate"] as? Bool == true, "\(second) (answered \(replayAfter) s after the first; the window is \(window) s)")
        #expect(second["transactionid"] as? String == "tx-dup-1")
        #expect(second["request_id"] as? String != first["request_id"] as? String)
        // Another id is not a duplicate.
        let other = try await stack.postAccepted(contactForm("tx-dup-2"))
        #expect(other["duplicate"] == nil, "\(other)")

        try await stack.cli.waitUntilSettled(delivered: 4)
        try await pause(1.0)  // room for a spurious second delivery to show up
        let rows = try stack.cli.list()
        let dupRows = rows.filter { $0["transactionid"] as? String == "tx-dup-1" }
        #expect(dupRows.count == 2, "one event, one delivery row per handler: \(dupRows)")
        #expect(Set(dupRows.map(rowID)).count == 1, "the replay was stored as a second event: \(dupRows)")
        let spooled = try sqliteQuery(directory.file("spool.db"), "SELECT COUNT(*) FROM events WHERE transaction_id = 'tx-dup-1'", in: directory)
        #expect(spooled == ["1"])

        let lines = JSONLines(path: directory.file("events.jsonl"))
        #expect(lines.countsByTransaction == ["tx-dup-1": 1, "tx-dup-2": 1], "\(lines.raw)")
        let stored = lines.objects.first { $0["transactionid"] as? String == "tx-dup-1" }
        #expect((stored?["contact"] as? [String: Any])?["email"] as? String == "first@example.com", "the first event wins")
        let requests = try recorder.requests()
        #expect(requests.filter { $0.transactionID == "tx-dup-1" }.count == 1, "\(requests)")
        #expect(requests.filter { $0.transactionID == "tx-dup-2" }.count == 1, "\(requests)")

        // Past the window the id is accepted as a new event.
        try await pause(max(0, window + 0.2 - Date().timeIntervalSince(firstAnswered)))
        let later = try await stack.postAccepted(contactForm("tx-dup-1", email: "later@example.com"))
        #expect(later["duplicate"] == nil, "an id outside dedup_window must be new: \(later)")
        try await stack.cli.waitUntilSettled(delivered: 6)
        #expect(JSONLines(path: directory.file("events.jsonl")).countsByTransaction["tx-dup-1"] == 2)
    }
}
