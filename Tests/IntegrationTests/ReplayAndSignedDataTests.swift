import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What a signature vouches for, and replays: only signed bytes become event data, and a
/// replay is stored once with and without a spool, across CGI processes too (SECURITY.md,
/// "Replays" and "Signed data").
@Suite("verification: signed data only, replays stored once")
struct ReplayAndSignedDataTests {
    /// A standard-webhooks config with `extra` lines (a spool, or none).
    static func signedConfig(secret: String, spool: Bool) -> String {
        """
        verify:
          signature: { scheme: standard-webhooks, secret: "\(secret)" }
        \(spool ? "spool: data/spool.db\n" : "")handlers:
          - type: jsonl
            path: data/events.jsonl
        """
    }

    @Test("signature: the query can't add a field or change transactionid, a replay with a new query is a duplicate, a GET is refused")
    func onlySignedBytesBecomeTheEvent() async throws {
        let bench = try TestBench("sig-query")
        defer { bench.tearDown() }
        let directory = bench.directory
        let key = randomBytes(24)
        let listener = try await startVerificationListener(
            in: directory, yaml: Self.signedConfig(secret: "whsec_" + Data(key).base64EncodedString(), spool: true))
        defer { listener.stop() }
        let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint)
        defer { nginx.stop() }
        func send(_ request: VerificationRequest) async throws -> HTTPResponse {
            try await verificationSendAsync(request, port: nginx.port, directory: directory).response
        }

        let body = contactForm("tx-signed", email: "real@example.com")
        let headers = try standardWebhooksHeaders(id: "msg_q1", timestamp: unixNow, body: Array(body.utf8), key: key, directory: directory)
        // The query tries to set what the body didn't sign.
        let first = expectAccepted(
            try await send(.form(body, query: "transactionid=tx-forged&contact%5Bphone%5D=666&campaign=evil", headers: headers)),
            "signed POST with extra query parameters")
        #expect(first["transactionid"] as? String == "tx-signed", "the answer's transaction id came from the query: \(first)")
        // The captured request replayed with a new query: the same event, not a variant.
        let replay = expectAccepted(
            try await send(.form(body, query: "transactionid=tx-new&contact%5Bphone%5D=777", headers: headers)), "replay with a new query")
        #expect(replay["duplicate"] as? Bool == true, "a replay with another query was stored as a new event: \(replay)")
        // A GET carrying the MAC of an empty body.
        let emptyHeaders = try standardWebhooksHeaders(id: "msg_q2", timestamp: unixNow, body: [], key: key, directory: directory)
        var get = VerificationRequest(method: "GET", query: "transactionid=tx-get&contact%5Bemail%5D=evil%40example.com", headers: emptyHeaders)
        get.contentType = nil
        expectRejected(try await send(get), status: 401, errorPrefix: "verify.signature:", mentioning: "query string", "signed GET")

        try await SpoolCLI(directory: directory, configPath: listener.configPath).waitUntilSettled(delivered: 1)
        let events = storedEvents(directory)
        #expect(events.objects.count == 1, "stored: \(events.raw)")
        let stored = try #require(events.objects.first)
        #expect(stored["transactionid"] as? String == "tx-signed")
        let contact = stored["contact"] as? [String: Any]
        #expect(contact?["email"] as? String == "real@example.com")
        #expect(contact?["phone"] is NSNull || contact?["phone"] == nil, "unsigned phone stored: \(stored)")
        #expect((stored["extra"] as? [String: Any])?.isEmpty == true, "unsigned query parameters stored: \(stored)")
        for forged in ["tx-forged", "tx-new", "tx-get", "666", "777", "evil"] {
            #expect(!events.raw.joined().contains(forged), "\(forged) reached a stored event")
        }
    }

    @Test("no spool: the same signed request twice (and the same transaction id again) is stored once; dedup.db holds the keys")
    func replayWithoutSpool() async throws {
        let bench = try TestBench("replay-nospool")
        defer { bench.tearDown() }
        let directory = bench.directory
        let key = randomBytes(24)
        let listener = try await startVerificationListener(
            in: directory, yaml: Self.signedConfig(secret: "whsec_" + Data(key).base64EncodedString(), spool: false))
        defer { listener.stop() }
        let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint)
        defer { nginx.stop() }
        func send(_ body: String, id: String) async throws -> HTTPResponse {
            let headers = try standardWebhooksHeaders(id: id, timestamp: unixNow, body: Array(body.utf8), key: key, directory: directory)
            return try await verificationSendAsync(.form(body, headers: headers), port: nginx.port, directory: directory).response
        }

        let body = contactForm("tx-replay-1")
        #expect(expectAccepted(try await send(body, id: "msg_r1"), "first")["duplicate"] == nil)
        #expect(expectAccepted(try await send(body, id: "msg_r1"), "identical replay")["duplicate"] as? Bool == true)
        // Another webhook-id, same transaction: still the same event.
        #expect(expectAccepted(try await send(body, id: "msg_r2"), "same transaction, new id")["duplicate"] as? Bool == true)
        // Without a transaction id, webhook-id is the key.
        let shortcode = "email=noid%40example.com"
        #expect(expectAccepted(try await send(shortcode, id: "msg_r3"), "no transaction id")["duplicate"] == nil)
        #expect(expectAccepted(try await send(shortcode, id: "msg_r3"), "its replay")["duplicate"] as? Bool == true)

        let events = storedEvents(directory)
        #expect(events.countsByTransaction == ["tx-replay-1": 1, "(none)": 1], "\(events.raw)")
        #expect(pathExists(directory.file("data/dedup.db")), "no data/dedup.db beside the config")
    }

    @Test("no spool, CGI: a second process with the same transaction id answers duplicate; a failed store releases the id")
    func replayAcrossCGIProcesses() async throws {
        let bench = try TestBench("replay-cgi")
        defer { bench.tearDown() }
        let directory = bench.directory
        let out = try directory.folder("out")
        // Fails while out/fail exists, else appends its stdin's transaction id to out/ids.
        let script = try directory.write("store.sh", """
            #!/bin/sh
            [ -e "$OUT/fail" ] && exit 1
            echo "$TRANSACTION_ID" >> "$OUT/ids"

            """)
        chmod(script, 0o755)
        let configPath = try directory.write("listener.yaml", """
            verify:
              token: t0ken-cgi
            handlers:
              - type: exec
                command: [./store.sh]
                env: { OUT: \(out) }

            """)
        @Sendable func post(_ id: String) throws -> CGIRun {
            try runCGIRequest(in: directory, configPath: configPath, body: Array(contactForm(id).utf8),
                              extraEnvironment: ["HTTP_X_LISTENER_TOKEN": "t0ken-cgi"])
        }
        try directory.write("out/fail", "")
        let failed = try await offload { try post("tx-cgi-1") }
        #expect(failed.status == 503, "\(failed)")
        unlink("\(out)/fail")
        let stored = try await offload { try post("tx-cgi-1") }
        #expect(stored.status == 200 && (try? stored.json())?["duplicate"] == nil, "the id of a failed store must be free again: \(stored)")
        let again = try await offload { try post("tx-cgi-1") }
        #expect(again.status == 200 && (try? again.json())?["duplicate"] as? Bool == true, "\(again)")
        #expect(readText("\(out)/ids") == "tx-cgi-1\n", "the handler ran for a replay: \(readText("\(out)/ids"))")
    }

    @Test("no spool: a duplicate arriving while the first is still being stored gets 409, never a 200 for an event not yet stored")
    func concurrentDuplicateIsNotAcknowledged() async throws {
        let bench = try TestBench("replay-busy")
        defer { bench.tearDown() }
        let directory = bench.directory
        let out = try directory.folder("out")
        // Signals that it started, then waits for the test's go before storing.
        let script = try directory.write("slow.sh", """
            #!/bin/sh
            touch "$OUT/started"
            while [ ! -e "$OUT/go" ]; do sleep 0.05; done
            echo "$TRANSACTION_ID" >> "$OUT/ids"

            """)
        chmod(script, 0o755)
        let stack = try await bench.stack(config: """
            handlers:
              - type: exec
                command: [./slow.sh]
                timeout: 60s
                env: { OUT: \(out) }

            """)
        defer { _ = try? directory.write("out/go", "") }

        async let first = stack.post(contactForm("tx-busy"))
        let started = try await offload { poll(timeout: 60) { pathExists("\(out)/started") } }
        try #require(started, "the handler never started for the first request\n\(stack.listener.process.diagnostics())")
        let second = try await stack.post(contactForm("tx-busy"))
        expectRejected(second, status: 409, mentioning: "being stored", "the duplicate while the first is in flight")
        try directory.write("out/go", "")
        let answer = try await first
        #expect(answer.status == 200, "\(answer)")
        #expect(readText("\(out)/ids") == "tx-busy\n")
    }
}
