import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// CGI mode with a spool: each process stores its event, answers, then delivers what is
/// due within `cgi_delivery_budget`; `drain` (cron) does the same. Several of them at once
/// share the spool through SQLite's locks and the delivery leases.
@Suite("spool: concurrent CGI processes and drain")
struct SpoolCGITests {
    @Test("2 × 50 concurrent CGI requests + drain running alongside: each event delivered exactly once to jsonl and http")
    func concurrentCGIAndDrain() async throws {
        let bench = try TestBench("cgi-spool")
        defer { bench.tearDown() }
        let directory = bench.directory
        // A slow-ish backend and small batches, so that deliveries overlap across processes.
        let recorder = try await bench.recorder(plan: #"{"steps":[{"status":200}],"delay":0.03}"#)
        let configPath = try directory.write("listener.yaml", """
            spool:
              path: spool.db
              batch_size: 3
              cgi_delivery_budget: 1s
              retry: [1s, 1s]
              jitter: 0
            handlers:
              - type: jsonl
                path: events.jsonl
              - type: http
                name: crm
                url: "\(recorder.url)/contacts"
                timeout: 10s

            """)
        let cli = SpoolCLI(directory: directory, configPath: configPath)

        let workers = 2, perWorker = 50
        let finished = Counter()
        // `drain` in a loop for as long as the CGI workers run (a cron job that fires a lot).
        let drains = Task {
            try await offload { () -> (runs: Int, attempts: Int, failures: [String]) in
                var runs = 0, attempts = 0
                var failures: [String] = []
                while finished.value < workers {
                    let result = try cli.run(["drain", "--max-time", "5s"])
                    runs += 1
                    if result.exit != .exited(0) { failures.append("\(result)") }
                    attempts += Int(result.stdout.split(separator: " ").first ?? "") ?? 0
                    usleep(20_000)
                }
                return (runs, attempts, failures)
            }
        }
        let answers = try await concurrently(workers) { worker -> [(String, CGIRun)] in
            defer { _ = finished.increment() }
            return try (0..<perWorker).map { index in
                let id = "tx-cgi-w\(worker)-\(index)"
                return (id, try runCGIRequest(in: directory, configPath: configPath, body: Array(contactForm(id).utf8)))
            }
        }.flatMap { $0 }
        let drained = try await drains.value
        #expect(drained.failures.isEmpty, "drain failed: \(drained.failures.prefix(3))")
        #expect(drained.runs >= 1)

        for (id, answer) in answers {
            #expect(answer.exit == .exited(0) && answer.status == 200, "\(id): \(answer)")
            #expect((try? answer.json())?["transactionid"] as? String == id, "\(id): \(answer.body)")
        }
        // Whatever is left (an event stored after the last drain looked) goes now.
        let final = try cli.run(["drain", "--max-time", "30s"])
        #expect(final.exit == .exited(0), "\(final)")
        let status = try await cli.waitUntilSettled(delivered: 2 * workers * perWorker, timeout: 30)
        #expect(status["jsonl"] == ["pending": 0, "delivered": workers * perWorker, "failed": 0, "dead": 0], "\(status)")
        #expect(status["crm"] == ["pending": 0, "delivered": workers * perWorker, "failed": 0, "dead": 0], "\(status)")

        let ids = Set(answers.map(\.0))
        let lines = JSONLines(path: directory.file("events.jsonl"))
        #expect(lines.broken.isEmpty, "\(lines.broken.prefix(3))")
        let jsonlCounts = lines.countsByTransaction
        #expect(Set(jsonlCounts.keys) == ids, "jsonl: missing \(ids.subtracting(jsonlCounts.keys).sorted().prefix(5))")
        #expect(jsonlCounts.values.allSatisfy { $0 == 1 }, "jsonl twice: \(jsonlCounts.filter { $0.value > 1 })")

        let requests = try recorder.requests()
        var httpCounts: [String: Int] = [:]
        for request in requests { httpCounts[request.transactionID ?? "(none)", default: 0] += 1 }
        #expect(Set(httpCounts.keys) == ids, "http: missing \(ids.subtracting(httpCounts.keys).sorted().prefix(5))")
        #expect(httpCounts.values.allSatisfy { $0 == 1 }, "http twice: \(httpCounts.filter { $0.value > 1 })")
        #expect(requests.allSatisfy { $0.status == 200 })
    }
}
