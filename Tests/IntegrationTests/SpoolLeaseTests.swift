import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Leases and per-attempt time limits: what keeps two processes (CGI requests, `drain` from
/// cron) from delivering the same event at once, and a stuck attempt from holding a
/// delivery forever.
@Suite("spool: leases and attempt time limits")
struct SpoolLeaseTests {
    @Test("a batch that outlives its lease is not delivered a second time by a concurrent drain")
    func batchLongerThanLease() async throws {
        let directory = try TestDirectory("lease")
        defer { directory.remove() }
        // Each request takes 0.5 s, so a batch of 6 takes 3 s: three times the lease. With the
        // defaults the same happens to a batch of 64 against a CRM answering in 1 s (lease 60 s).
        let recorder = try await Recorder.start(in: directory, plan: #"{"steps":[{"status":200}],"delay":0.5}"#)
        defer { recorder.stop() }
        let configPath = try directory.write("listener.yaml", """
            spool:
              path: spool.db
              batch_size: 6
              lease: 1s
              cgi_delivery_budget: 0
            handlers:
              - type: http
                name: crm
                url: "\(recorder.url)/contacts"
                timeout: 10s

            """)
        let ids = (0..<6).map { "tx-lease-\($0)" }
        for id in ids {
            let answer = try await offload { try runCGIRequest(in: directory, configPath: configPath, body: Array(contactForm(id).utf8)) }
            try #require(answer.status == 200, "\(answer)")
        }
        #expect(try recorder.requests().isEmpty, "cgi_delivery_budget 0 should leave delivery to drain")

        // Two cron runs overlapping: the second starts while the first is half-way through its batch.
        let cli = SpoolCLI(directory: directory, configPath: configPath)
        let first = Task { try await offload { try cli.run(["drain", "--max-time", "30s"]) } }
        try await pause(1.5)
        let second = Task { try await offload { try cli.run(["drain", "--max-time", "30s"]) } }
        let results = [try await first.value, try await second.value]
        for result in results { #expect(result.exit == .exited(0), "\(result)") }

        let status = try cli.status()
        #expect(status["crm"]?["delivered"] == ids.count, "\(status)")
        var counts: [String: Int] = [:]
        for request in try recorder.requests() { counts[request.transactionID ?? "(none)", default: 0] += 1 }
        #expect(Set(counts.keys) == Set(ids))
        let twice = counts.filter { $0.value > 1 }.keys.sorted()
        #expect(twice.isEmpty, """
            delivered more than once (the second drain claimed deliveries whose lease ran out while the first \
            was still working through its batch): \(twice); drains said: \(results.map { $0.stdout.trimmingCharacters(in: .whitespacesAndNewlines) })
            """)
    }

}
