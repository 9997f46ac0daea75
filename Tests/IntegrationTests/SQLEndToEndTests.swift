import Foundation
import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerSQL

/// The real binary in CGI mode, with a spool and the SQL handlers, against private
/// PostgreSQL and MariaDB servers: restarts lose nothing, and two listeners sharing one
/// database store each event once.
@Suite("SQL handlers end to end (CGI + spool)")
struct SQLEndToEndTests {
    @Test("CGI → spool → SQLite, PostgreSQL and MariaDB; both servers restarted mid-run; nothing lost, nothing twice")
    func restartMidRun() async throws {
        let directory = try TestDirectory("sql-e2e")
        defer { directory.remove() }
        let (postgres, mariadb) = try await DatabaseServer.startPostgresAndMariaDB(in: directory)
        defer {
            postgres.stop()
            mariadb.stop()
        }

        let configPath = try directory.write("listener.yaml", """
            spool:
              path: spool.db
              retry: [1s, 1s, 1s, 1s, 1s, 1s, 1s, 1s, 1s, 1s]
              cgi_delivery_budget: 15s
            handlers:
              - type: sqlite
                path: contacts.sqlite
              - type: postgres
                url: \(postgres.url)
                timeout: 5s
              - type: mysql
                url: \(mariadb.url)
                timeout: 5s
            """)
        let cli = SpoolCLI(directory: directory, configPath: configPath)
        let send: @Sendable (String) async throws -> Void = { body in
            let run = try await offload { try runCGIRequest(in: directory, configPath: configPath, body: Array(body.utf8)) }
            #expect(run.status == 200, "\(run)")
        }

        // 1. Both servers up: every handler has the events once the CGI processes exit.
        try await send(Fixtures.structuredBody)
        for number in 2...3 { try await send(Self.cityEvent(number)) }
        let settled = try await offload { try cli.status() }
        for handler in ["sqlite", "postgres", "mysql"] {
            #expect(settled[handler]?["delivered"] == 3, "\(handler): \(settled)")
        }

        // 2. Both servers down: the listener still answers 200 (the spool has the events);
        //    the SQL deliveries fail and wait in the spool. A redelivery of tx-e2e-2 too.
        try await postgres.stopAsync()
        try await mariadb.stopAsync()
        for number in 4...6 { try await send(Self.cityEvent(number)) }
        try await send(Self.cityEvent(2))
        let waiting = try await offload { try cli.status() }
        #expect(waiting["sqlite"]?["delivered"] == 6, "\(waiting)")
        for handler in ["postgres", "mysql"] {
            let open = (waiting[handler]?["failed"] ?? 0) + (waiting[handler]?["pending"] ?? 0) + (waiting[handler]?["dead"] ?? 0)
            #expect(open == 3, "\(handler) should hold 3 undelivered events: \(waiting)")
            #expect(waiting[handler]?["delivered"] == 3, "\(waiting)")
        }
        let target = "postgres 127.0.0.1:\(postgres.currentPort)/contacts"
        let errors = try await offload {
            try cli.list(state: "failed", handler: "postgres").map { ($0["last_error"] as? String) ?? "" }
        }
        #expect(!errors.isEmpty && errors.allSatisfy { $0.contains(target) }, "the error names the server: \(errors)")

        // 3. Back up: `spool retry --all-dead` and `drain` deliver everything.
        try await postgres.start()
        try await mariadb.start()
        try await Self.drainUntilSettled([cli])

        let snapshots = try await offload {
            [try DatabaseSnapshot.read(sqlitePath: directory.file("contacts.sqlite")),
             try DatabaseSnapshot.read(postgres), try DatabaseSnapshot.read(mariadb)]
        }
        for (name, snapshot) in zip(["PostgreSQL", "MariaDB"], snapshots.dropFirst()) {
            #expect(snapshot == snapshots[0], "\(name) differs from SQLite:\n\(snapshot.differences(from: snapshots[0]))")
        }
        let expected = (["tx-structured-1"] + (2...6).map { "tx-e2e-\($0)" }).sorted()
        for (name, snapshot) in zip(["SQLite", "PostgreSQL", "MariaDB"], snapshots) {
            #expect(snapshot.column("events", 1).compactMap { $0 }.sorted() == expected, "\(name): \(snapshot)")
            #expect(snapshot.count("links_clicked") == 1 + 5, "\(name): one click row per event: \(snapshot)")
            // The newest event (tx-e2e-6) set the city; the redelivered tx-e2e-2 changed nothing.
            #expect(snapshot.tables["contact_fields"]?.contains { $0[3] == "City" && $0[4] == "City 6" } == true, "\(name)")
            #expect(snapshot.tables["contacts"]?.first { $0[1] == "1001" }?[2] == "e2e-6@example.com", "\(name)")
        }
        #expect(snapshots[0].count("campaigns_opened") == 1 && snapshots[0].count("lead_statuses") == 1)
    }

    @Test("two listener processes with their own spools, sharing one PostgreSQL, store each event once")
    func twoListenersOnePostgres() async throws {
        let directory = try TestDirectory("sql-two")
        defer { directory.remove() }
        let postgres = try await DatabaseServer.start(.postgres, in: directory)
        defer { postgres.stop() }

        let configs = try ["a", "b"].map { name in
            try directory.write("listener-\(name).yaml", """
                spool:
                  path: spool-\(name).db
                  retry: [1s, 1s, 1s, 1s, 1s, 1s, 1s, 1s, 1s, 1s]
                  cgi_delivery_budget: 15s
                handlers:
                  - type: postgres
                    url: \(postgres.url)
                    timeout: 5s
                """)
        }
        // Create both spools first: this test is about the database, and the spool's own
        // first-time migration is not safe against concurrent first opens.
        let clis = configs.map { SpoolCLI(directory: directory, configPath: $0) }
        for cli in clis { _ = try await offload { try cli.status() } }

        // Every event reaches both listeners at once (a platform retrying on another host).
        let count = 6
        let runs = try await concurrently(count * 2) { index in
            try runCGIRequest(in: directory, configPath: configs[index % 2], body: Array(Self.cityEvent(index / 2 + 2).utf8))
        }
        for run in runs { #expect(run.status == 200, "\(run)") }
        try await Self.drainUntilSettled(clis)

        let snapshot = try await offload { try DatabaseSnapshot.read(postgres) }
        #expect(snapshot.column("events", 1).compactMap { $0 }.sorted() == (2..<count + 2).map { "tx-e2e-\($0)" }.sorted(), "\(snapshot)")
        #expect(snapshot.count("links_clicked") == count, "one activity row per event: \(snapshot)")
        #expect(snapshot.count("contacts") == 1)
        #expect(snapshot.count("contact_fields") == 1)
        for cli in clis {
            let status = try await offload { try cli.status() }
            #expect(status["postgres"]?["delivered"] == count, "\(status)")
        }
    }

    /// An event for contact 1001 that sets its City to "City N" and clicks a link.
    static func cityEvent(_ number: Int) -> String {
        "transactionid=tx-e2e-\(number)&contact%5Bid%5D=1001&contact%5Bemail%5D=e2e-\(number)%40example.com"
            + "&fields%5B0%5D%5Bid%5D=1&fields%5B0%5D%5Bname%5D=City&fields%5B0%5D%5Bvalue%5D=City+\(number)"
            + "&links-clicked%5B0%5D%5Burl%5D=https%3A%2F%2Fexample.com%2F\(number)&links-clicked%5B0%5D%5Bclicks%5D=\(number)"
    }

    /// Runs `spool retry --all-dead` and `drain` (both spools at once) until no delivery is
    /// left open; failed ones come due again after the 1 s retry delay.
    static func drainUntilSettled(_ clis: [SpoolCLI], timeout: Double = 60) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let statuses = try await concurrently(clis.count) { index in
                let cli = clis[index]
                _ = try cli.run(["spool", "retry", "--all-dead"])
                let drained = try cli.run(["drain", "--max-time", "30s"])
                guard drained.exit == .exited(0) else { throw TestFailure("drain failed: \(drained)") }
                return try cli.status()
            }
            let open = statuses.flatMap(\.values).reduce(0) { $0 + ($1["pending"] ?? 0) + ($1["failed"] ?? 0) + ($1["dead"] ?? 0) }
            if open == 0 { return }
            guard Date() < deadline else { throw TestFailure("deliveries still open after \(timeout) s: \(statuses)") }
            try await Task.sleep(nanoseconds: 500_000_000)
        }
    }
}
