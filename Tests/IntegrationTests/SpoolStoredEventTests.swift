import Foundation
import Testing

/// What the spool stores is read back for delivery: an event the listener accepted (and
/// answered 200 for) must read back, however deep it was within the request's limits.
@Suite("spool: stored events read back for delivery")
struct SpoolStoredEventTests {
    /// One event nested exactly to `maxDepth` everywhere the stored form adds levels: a
    /// top-level extra, a record's unknown key (stored under the record's own "extra"), and a
    /// single lead-status object (stored as a list of one).
    static func deepestBody(_ id: String, maxDepth: Int) -> String {
        func nest(_ name: String, levels: Int) -> (String, String) {
            (name + String(repeating: "[a]", count: levels), "deep")
        }
        return formBody([
            ("transactionid", id), ("contact[email]", "deep@example.com"), ("fields[0][name]", "City"), ("fields[0][value]", "Oslo"),
            nest("x", levels: maxDepth),
            nest("contact[x]", levels: maxDepth - 1),
            nest("fields[0][x]", levels: maxDepth - 2),
            nest("lead-status[x]", levels: maxDepth - 1),
        ])
    }

    @Test("an event nested exactly to limits.max_depth gets its 200 and is delivered, not a dead letter", arguments: [8, 512])
    func deepestAcceptedEventIsDelivered(maxDepth: Int) async throws {
        let directory = try TestDirectory("depth-\(maxDepth)")
        defer { directory.remove() }
        let configPath = try directory.write("listener.yaml", """
            limits:
              max_depth: \(maxDepth)
            spool:
              path: spool.db
              cgi_delivery_budget: 10s
            handlers:
              - type: sqlite
                path: contacts.db

            """)
        let cli = SpoolCLI(directory: directory, configPath: configPath)
        let body = Self.deepestBody("tx-depth-\(maxDepth)", maxDepth: maxDepth)
        let answer = try await offload { try runCGIRequest(in: directory, configPath: configPath, body: Array(body.utf8)) }
        #expect(answer.status == 200, "\(answer)")
        let rows = try cli.list()
        #expect(rows.count == 1 && rows.first?["state"] as? String == "delivered", "\(rows)")
        // One level more is refused with 400 before anything is stored.
        let tooDeep = try await offload {
            try runCGIRequest(in: directory, configPath: configPath, body: Array(Self.deepestBody("tx-deeper", maxDepth: maxDepth + 1).utf8))
        }
        #expect(tooDeep.status == 400, "\(tooDeep)")
        #expect(try cli.list().count == 1)
    }
}
