import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Many clients at once through nginx: concurrency, and a graceful stop with requests in
/// flight. Each client is a thread running curl requests one after another.
@Suite("load through nginx")
struct LoadTests {
    /// One client's answers: transaction id, HTTP status (0: nothing answered), body.
    typealias Answers = [(id: String, status: Int, body: String)]

    static func body(_ id: String, client: Int) -> String {
        "transactionid=\(id)&contact%5Bemail%5D=client\(client)%40example.com"
            + "&fields%5B0%5D%5Bname%5D=Client&fields%5B0%5D%5Bvalue%5D=\(client)"
            + "&fields%5B1%5D%5Bname%5D=Padding&fields%5B1%5D%5Bvalue%5D=" + String(repeating: "z", count: 200 + client * 37)
    }

    @Test("4 clients × 400 POSTs at once: one whole line per 200, ids unique")
    func concurrentClients() async throws {
        let directory = try TestDirectory("concurrent")
        defer { directory.remove() }
        let listener = try await ListenerProcess.serve(in: directory, config: ListenerConfig(threads: 4))
        defer { listener.process.stop() }
        let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint)
        defer { nginx.stop() }
        let client = try CurlClient(port: nginx.port, directory: directory)

        // One curl process per client, sending its requests back to back.
        let clients = 4, perClient = 400
        let answers = try await concurrently(clients) { number in
            try client.sendBatchBlocking((0..<perClient).map { index in
                let id = "tx-c\(number)-\(index)"
                return (id, Self.body(id, client: number))
            })
        }.flatMap { $0 }

        let failed = answers.filter { $0.status != 200 }
        #expect(failed.isEmpty, "\(failed.count) requests failed, e.g. \(failed.prefix(3))\n\(nginx.diagnostics())")
        let lines = listener.storedLines
        #expect(lines.count == answers.filter { $0.status == 200 }.count, "one line per 200")
        var stored: [String] = []
        for (number, line) in lines.enumerated() {
            // Every line is whole JSON: no two appends interleaved.
            guard let object = try? jsonObject(line) else {
                Issue.record("line \(number + 1) is not JSON: \(line.prefix(300))")
                continue
            }
            stored.append(object["transactionid"] as? String ?? "?")
            let fields = object["fields"] as? [[String: Any]] ?? []
            // The padding of client N is 200 + N*37 bytes: a line never carries another's data.
            if let id = object["transactionid"] as? String, let clientNumber = Int(id.dropFirst(4).prefix { $0 != "-" }) {
                #expect((fields.last?["value"] as? String)?.count == 200 + clientNumber * 37, "\(line.prefix(200))")
            }
        }
        #expect(stored.count == Set(stored).count, "a transaction id was stored twice")
        #expect(Set(stored) == Set(answers.filter { $0.status == 200 }.map(\.id)), "stored ids differ from the answered ones")
        #expect(listener.requestLog.count == clients * perClient, "one log line per request")

        let exit = try await listener.stop()
        #expect(exit == .exited(0), "\(listener.process.diagnostics())")
    }

    @Test("SIGTERM with requests in flight: every 200 is stored exactly once, exit 0, socket removed")
    func gracefulStop() async throws {
        let directory = try TestDirectory("graceful")
        defer { directory.remove() }
        let listener = try await ListenerProcess.serve(in: directory, config: ListenerConfig(threads: 4))
        defer { listener.process.stop(signal: SIGKILL) }
        let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint)
        defer { nginx.stop() }
        let client = try CurlClient(port: nginx.port, directory: directory)
        guard case .unix(let socketPath) = listener.endpoint else { Issue.record("not a unix socket"); return }

        let clients = 8, perClient = 50, stopAfter = 100
        let completed = Counter()
        let signalled = Counter()
        let process = listener.process
        async let load = concurrently(clients) { number -> Answers in
            try (0..<perClient).map { index in
                let id = "tx-g\(number)-\(index)"
                let response = try client.sendBlocking(.form(Self.body(id, client: number)))
                // Mid-way: SIGTERM while the other clients' requests are in flight.
                if completed.increment() == stopAfter {
                    process.send(SIGTERM)
                    _ = signalled.increment()
                }
                return (id, response.status, response.body)
            }
        }
        let answers = try await load.flatMap { $0 }
        #expect(signalled.value == 1, "SIGTERM was not sent")

        let exit = try await process.waitForExitAsync(timeout: 30)
        #expect(exit == .exited(0), "the listener must exit 0 after SIGTERM\n\(process.diagnostics())")
        #expect(!pathExists(socketPath), "the listener left its socket file behind")
        #expect(listener.log.contains("stopped"), "\(listener.log.suffix(500))")

        let accepted = answers.filter { $0.status == 200 }
        #expect(accepted.count >= stopAfter, "\(accepted.count) answers were 200")
        let odd = answers.filter { $0.status != 200 && $0.status != 502 }
        #expect(odd.isEmpty, "answers other than 200 and 502 (listener gone): \(odd.prefix(5))")

        var stored: [String: Int] = [:]
        for line in listener.storedLines {
            let object = try jsonObject(line)
            stored[object["transactionid"] as? String ?? "?", default: 0] += 1
        }
        for answer in accepted {
            #expect(stored[answer.id] == 1, "\(answer.id) got 200 but is stored \(stored[answer.id] ?? 0) times")
        }
        // Nothing is stored that was not acknowledged: an unanswered event would be a duplicate on retry.
        let acknowledged = Set(accepted.map(\.id))
        let unacknowledged = stored.keys.filter { !acknowledged.contains($0) }
        #expect(unacknowledged.isEmpty, "stored without a 200: \(unacknowledged.sorted().prefix(10))")
        #expect(listener.requestLog.filter { $0.status == 200 }.count == accepted.count)
    }

    /// With nginx keeping connections to the listener (`upstream { keepalive N; }` +
    /// `fastcgi_keep_conn on`), FastCGIServer.stop() shuts down (SHUT_RDWR) the kept
    /// connection of every worker registered in `waiting`. A worker stays registered from
    /// before FCGX_Accept_r until after it returns, so a connection on which nginx has
    /// already sent the next request is shut down too; the worker still reads that request,
    /// stores the event and logs 200, but can't write the answer: nginx logs "upstream
    /// prematurely closed connection" and answers 502, and the platform sends the event
    /// again — a duplicate. Fast clients (one curl process each) make this happen every
    /// few stops, so the test runs several rounds.
    @Test("SIGTERM while nginx reuses kept-alive connections: nothing is stored without its 200")
    func gracefulStopKeptConnections() async throws {
        let directory = try TestDirectory("keepalive")
        defer { directory.remove() }
        let rounds = 4, clients = 8, perClient = 400, stopAt = 600
        for round in 1...rounds {
            var config = ListenerConfig(threads: clients)
            config.eventsPath = "data/round-\(round).jsonl"
            config.fsync = false
            let listener = try await ListenerProcess.serve(in: directory, config: config)
            defer { listener.process.stop(signal: SIGKILL) }
            let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint, keepalive: clients)
            defer { nginx.stop() }
            let client = try CurlClient(port: nginx.port, directory: directory)

            let process = listener.process
            let eventsPath = listener.eventsPath
            // SIGTERM once `stopAt` events are stored, with every client mid-batch.
            async let stopper: Bool = offload {
                let reached = poll(timeout: 60) {
                    readText(eventsPath).utf8.lazy.filter { $0 == UInt8(ascii: "\n") }.count >= stopAt || !process.isRunning
                }
                process.send(SIGTERM)
                return reached
            }
            let answers = try await concurrently(clients) { number in
                try client.sendBatchBlocking((0..<perClient).map { index in
                    let id = "tx-r\(round)-\(number)-\(index)"
                    return (id, "transactionid=\(id)&contact%5Bemail%5D=k\(number)%40example.com")
                })
            }.flatMap { $0 }
            #expect(try await stopper, "round \(round): the clients finished before \(stopAt) events were stored")
            let exit = try await process.waitForExitAsync(timeout: 30)
            #expect(exit == .exited(0), "round \(round)\n\(process.diagnostics())")

            let acknowledged = Set(answers.filter { $0.status == 200 }.map(\.id))
            var stored: [String: Int] = [:]
            for line in listener.storedLines {
                stored[try jsonObject(line)["transactionid"] as? String ?? "?", default: 0] += 1
            }
            let missing = acknowledged.filter { stored[$0] != 1 }
            #expect(missing.isEmpty, "round \(round): answered 200 but not stored exactly once: \(missing.sorted().prefix(5))")
            let unacknowledged = stored.keys.filter { !acknowledged.contains($0) }.sorted()
            let statuses = Dictionary(answers.map { ($0.id, $0.status) }, uniquingKeysWith: { a, _ in a })
            #expect(unacknowledged.isEmpty,
                    """
                    round \(round): stored (and logged 200) but nginx answered \(unacknowledged.prefix(5).map { statuses[$0] ?? -1 }): \
                    \(unacknowledged.prefix(5)) — the platform will resend them
                    """)
        }
    }

    @Test("SIGTERM while every worker waits on an idle kept-alive connection: the listener exits at once, 20 times in a row")
    func stopWithIdleKeptConnections() async throws {
        let directory = try TestDirectory("load-idle")
        defer { directory.remove() }
        // One worker, pinned by nginx's idle kept-alive connection after each request. On
        // SIGTERM that worker is woken, and libfcgi sends it back to accept(): if the
        // listening socket were still blocking then, it would wait there for good.
        var config = ListenerConfig(threads: 1)
        config.fsync = false
        var listener = try await ListenerProcess.serve(in: directory, config: config)
        let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint, keepalive: 4)
        defer { nginx.stop() }
        let client = try CurlClient(port: nginx.port, directory: directory)
        var accepted: [String] = []
        for round in 1...20 {
            if round > 1 { listener = try await ListenerProcess.serve(in: directory, config: config) }
            let answer = try await client.send(.form("transactionid=tx-idle-\(round)&contact%5Bemail%5D=i%40example.com"))
            #expect(answer.status == 200, "round \(round): \(answer)")
            if answer.status == 200 { accepted.append("tx-idle-\(round)") }
            listener.process.send(SIGTERM)
            let exit = try await listener.process.waitForExitAsync(timeout: 10)
            #expect(exit == .exited(0), "round \(round): no exit within 10 s of SIGTERM (\(exit.map { "\($0)" } ?? "still running"))\n\(listener.process.diagnostics())")
            if exit == nil {
                listener.process.stop(signal: SIGKILL)
                break
            }
        }
        let stored = Set(listener.storedLines.compactMap { try? jsonObject($0)["transactionid"] as? String })
        #expect(Set(accepted).subtracting(stored).isEmpty, "answered 200 but not stored: \(Set(accepted).subtracting(stored).sorted())")
    }
}
