import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The promise: an event answered 200 is never lost, not even when the listener is
/// killed with SIGKILL under load, and a redelivery after the crash stores nothing twice.
@Suite("spool: kill -9 under load")
struct SpoolCrashTests {
    /// True when this binary knows `type: sqlite` (`contact-listener handlers` lists it).
    static let sqliteHandlerExists: Bool = {
        guard let binary = try? ListenerBinary.path(), let directory = try? TestDirectory("handlers") else { return false }
        defer { directory.remove() }
        let result = try? runCommand(["handlers"], in: directory, executable: binary)
        return result?.stdout.split(separator: "\n").contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix("sqlite") } ?? false
    }()

    /// One client's answers.
    struct Answer: Sendable {
        var id: String
        var status: Int
        var body: String
    }

    @Test("kill -9 three times while 4 clients POST through nginx: every 200 delivered exactly once (jsonl)")
    func crashJSONLines() async throws {
        try await crashTest(sqlite: false)
    }

    @Test("kill -9 under load with a jsonl and a sqlite handler: every 200 exactly once in both",
          .enabled("`contact-listener handlers` lists no sqlite type", { SpoolCrashTests.sqliteHandlerExists }))
    func crashJSONLinesAndSQLite() async throws {
        try await crashTest(sqlite: true)
    }

    func crashTest(sqlite: Bool) async throws {
        let directory = try TestDirectory(sqlite ? "crash-sql" : "crash")
        defer { directory.remove() }
        // A short lease, so that deliveries a killed process had claimed are taken over soon.
        var yaml = spoolSocketGroupLine + """
            threads: 4
            spool:
              path: data/spool.db
              retry: [500ms, 500ms, 1s, 1s, 1s]
              jitter: 0
              lease: 2s
              batch_size: 16
            handlers:
              - type: jsonl
                path: data/events.jsonl

            """
        if sqlite {
            yaml += """
                  - type: sqlite
                    path: data/contacts.sqlite

                """
        }
        let configPath = try directory.write("listener.yaml", yaml)
        var listener = try await SpoolServer.start(in: directory, configPath: configPath)
        var listeners = [listener]
        defer { for process in listeners { process.crash() } }
        let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint)
        defer { nginx.stop() }
        let client = try CurlClient(port: nginx.port, directory: directory)
        let cli = SpoolCLI(directory: directory, configPath: configPath)

        // Clients POST distinct transaction ids, one after another, until told to stop.
        let stop = SpoolFlag()
        defer { stop.set() }  // whatever happens below, the clients stop
        let clients = Task {
            try await concurrently(4) { number -> [Answer] in
                var answers: [Answer] = []
                var index = 0
                while !stop.isSet {
                    let id = "tx-crash-c\(number)-\(index)"
                    index += 1
                    let response = try client.sendBlocking(.form(contactForm(id, email: "c\(number)-\(index)@example.com")))
                    answers.append(Answer(id: id, status: response.status, body: response.body))
                }
                return answers
            }.flatMap { $0 }
        }
        // Three crashes, each followed by a restart on the same socket and config.
        for _ in 1...3 {
            try await pause(1.0)
            listener.crash()
            #expect(listener.process.waitForExit(timeout: 0) == ExitStatus(code: SIGKILL, signaled: true))
            listener = try await SpoolServer.start(in: directory, configPath: configPath)
            listeners.append(listener)
        }
        try await pause(1.0)
        stop.set()
        let answers = try await clients.value

        let acknowledged = answers.filter { $0.status == 200 }
        let refused = answers.filter { $0.status != 200 }
        print("crash test (sqlite: \(sqlite)): \(answers.count) POSTs, \(acknowledged.count) acknowledged, \(refused.count) refused while the listener was down")
        #expect(acknowledged.count >= 20, "too few requests got through to test anything: \(answers.count) sent")
        // While the listener is down nginx answers 502; nothing else is acceptable.
        #expect(refused.allSatisfy { [502, 503, 504].contains($0.status) },
                "unexpected answers: \(refused.filter { ![502, 503, 504].contains($0.status) }.prefix(5).map { "\($0.status) \($0.body)" })")
        for answer in acknowledged {
            let object = try jsonObject(answer.body)
            #expect(object["ok"] as? Bool == true && object["transactionid"] as? String == answer.id, "\(answer.body)")
        }

        // The last listener delivers everything still pending (and what the killed ones had claimed).
        let status = try await cli.waitUntilSettled(timeout: 60)
        for (handler, counts) in status {
            #expect(counts["dead"] == 0, "\(handler) has dead letters: \(status)")
        }
        #expect(listener.stop() == .exited(0), "\(listener.process.diagnostics())")

        let acknowledgedIDs = Set(acknowledged.map(\.id))
        let spooled = try sqliteQuery(directory.file("data/spool.db"), "SELECT transaction_id FROM events", in: directory)
        #expect(spooled.count == Set(spooled).count, "the spool holds a transaction twice")
        let missingFromSpool = acknowledgedIDs.subtracting(spooled)
        #expect(missingFromSpool.isEmpty, "acknowledged but not in the spool: \(missingFromSpool.sorted().prefix(10))")

        // The JSON-lines output: whole lines, every acknowledged id exactly once, no id twice.
        let lines = JSONLines(path: directory.file("data/events.jsonl"))
        #expect(lines.broken.isEmpty, "lines that are not JSON: \(lines.broken.map { String($0.prefix(300)) }.prefix(3))")
        #expect(lines.endsWithNewline, "the file ends in the middle of a line")
        let counts = lines.countsByTransaction
        let missing = acknowledgedIDs.filter { counts[$0] == nil }
        #expect(missing.isEmpty, "acknowledged but never delivered to jsonl: \(missing.sorted().prefix(10))")
        let twice = counts.filter { $0.value > 1 }
        #expect(twice.isEmpty, "delivered more than once to jsonl: \(twice.sorted { $0.key < $1.key }.prefix(10))")
        #expect(Set(counts.keys) == Set(spooled), "jsonl holds other transactions than the spool")

        if sqlite {
            let rows = try sqliteQuery(
                directory.file("data/contacts.sqlite"),
                "SELECT transaction_id, COUNT(*) FROM events GROUP BY transaction_id", in: directory)
            var stored: [String: Int] = [:]
            for row in rows {
                let parts = row.split(separator: "|")
                if parts.count == 2 { stored[String(parts[0])] = Int(parts[1]) }
            }
            let missingSQL = acknowledgedIDs.filter { stored[$0] == nil }
            #expect(missingSQL.isEmpty, "acknowledged but not in the sqlite events table: \(missingSQL.sorted().prefix(10))")
            let twiceSQL = stored.filter { $0.value != 1 }
            #expect(twiceSQL.isEmpty, "in the sqlite events table more than once: \(twiceSQL.prefix(10))")
            #expect(Set(stored.keys) == Set(spooled), "the sqlite handler holds other transactions than the spool")
        }
    }
}
