import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The `verify:` rules end to end: the real binary behind a private nginx, each
/// request's status and JSON error, what is stored (and that nothing is for a refusal), and
/// that no token or secret ever reaches the listener's log or the stored events.
@Suite("verification: real nginx → listener")
struct VerificationTests {
    /// One row: a request and what must come back.
    struct Row {
        enum Expected {
            /// 200 and exactly one stored event carrying `marker` (a transaction id or e-mail).
            case stored(marker: String, remoteAddress: String)
            /// This status, an error starting with `verify.<rule>:` and mentioning `mentioning`.
            case refused(status: Int, rule: String, mentioning: String?, marker: String)
        }

        let name: String
        let request: VerificationRequest
        let expected: Expected
    }

    /// Sends the rows in order and checks each answer; returns the answers' JSON.
    @discardableResult
    static func run(_ rows: [Row], port: Int, directory: TestDirectory, listener: SpoolServer) async throws -> [String: [String: Any]] {
        var answers: [String: [String: Any]] = [:]
        for row in rows {
            let response = try await verificationSendAsync(row.request, port: port, directory: directory).response
            #expect(response.headers["content-type"] == "application/json", "\(row.name): \(response.headers)")
            switch row.expected {
            case .stored:
                answers[row.name] = expectAccepted(response, "\(row.name) [\(row.request)]\n\(listener.process.diagnostics())")
            case .refused(let status, let rule, let mentioning, _):
                expectRejected(response, status: status, errorPrefix: "verify.\(rule):", mentioning: mentioning,
                               "\(row.name) [\(row.request)]")
            }
        }
        return answers
    }

    /// Checks the stored events against the rows: one per accepted row (found by its
    /// marker, with the expected `meta.remote_addr`), none for a refused one.
    static func expectStored(_ rows: [Row], in events: JSONLines, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(events.broken.isEmpty, "broken stored lines: \(events.broken)", sourceLocation: sourceLocation)
        for row in rows {
            switch row.expected {
            case .stored(let marker, let remoteAddress):
                let matching = events.raw.indices.filter { events.raw[$0].contains(marker) }
                #expect(matching.count == 1, "\(row.name): \(matching.count) stored events carry \(marker)",
                        sourceLocation: sourceLocation)
                if let index = matching.first, index < events.objects.count {
                    let meta = events.objects[index]["meta"] as? [String: Any]
                    #expect(meta?["remote_addr"] as? String == remoteAddress,
                            "\(row.name): meta.remote_addr is \(meta?["remote_addr"] ?? "nil"), expected \(remoteAddress)",
                            sourceLocation: sourceLocation)
                }
            case .refused(_, _, _, let marker):
                #expect(!events.raw.contains { $0.contains(marker) }, "\(row.name): a refused request was stored",
                        sourceLocation: sourceLocation)
            }
        }
    }

    // MARK: - token, allow_from, methods

    @Test("token (rotation, query/header/Bearer), allow_from with IPv6, methods, X-Forwarded-For spoofing")
    func tokenAllowFromMethods() async throws {
        let directory = try TestDirectory("verify-token")
        defer { directory.remove() }
        let old = randomToken("tokold")
        let new = randomToken("toknew")
        let wrong = randomToken("tokbad")
        let listener = try await startVerificationListener(in: directory, yaml: """
            verify:
              token: ["\(old)", "\(new)"]
              allow_from: ["127.0.0.0/8", "2001:db8::/32"]
              methods: [GET, POST]
            handlers:
              - type: jsonl
                path: data/events.jsonl
            """)
        defer { listener.stop() }
        let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint, ipv6: true)
        defer { nginx.stop() }

        func form(_ id: String) -> String { contactForm(id) }
        let rows: [Row] = [
            Row(name: "new token in the query, beside another parameter",
                request: .form(form("tx-tok-query"), query: "token=\(new)&src=q1"),
                expected: .stored(marker: "tx-tok-query", remoteAddress: "127.0.0.1")),
            Row(name: "new token in X-Listener-Token",
                request: .form(form("tx-tok-header"), headers: ["X-Listener-Token: \(new)"]),
                expected: .stored(marker: "tx-tok-header", remoteAddress: "127.0.0.1")),
            Row(name: "new token as Authorization: Bearer (GET shortcode)",
                request: VerificationRequest(method: "GET", query: "transactionid=tx-tok-bearer&email=bea%40example.com&first=Bea",
                                             headers: ["Authorization: Bearer \(new)"], contentType: nil),
                expected: .stored(marker: "tx-tok-bearer", remoteAddress: "127.0.0.1")),
            Row(name: "rotated old token in the query",
                request: .form(form("tx-tok-old-query"), query: "token=\(old)"),
                expected: .stored(marker: "tx-tok-old-query", remoteAddress: "127.0.0.1")),
            Row(name: "rotated old token in X-Listener-Token",
                request: .form(form("tx-tok-old-header"), headers: ["X-Listener-Token: \(old)"]),
                expected: .stored(marker: "tx-tok-old-header", remoteAddress: "127.0.0.1")),
            Row(name: "token under a percent-encoded name (tok%65n=)",
                request: .form(form("tx-tok-encoded"), query: "tok%65n=\(new)&src=q2"),
                expected: .stored(marker: "tx-tok-encoded", remoteAddress: "127.0.0.1")),
            Row(name: "from another loopback address (127.0.0.9)",
                request: { var request = VerificationRequest.form(form("tx-tok-127-9"), query: "token=\(new)"); request.interface = "127.0.0.9"; return request }(),
                expected: .stored(marker: "tx-tok-127-9", remoteAddress: "127.0.0.9")),
            Row(name: "X-Forwarded-For from an untrusted peer is ignored (no trusted_proxies)",
                request: .form(form("tx-tok-xff-ignored"), query: "token=\(new)", headers: ["X-Forwarded-For: 2001:db8::99"]),
                expected: .stored(marker: "tx-tok-xff-ignored", remoteAddress: "127.0.0.1")),

            Row(name: "wrong token in the query",
                request: .form(form("tx-tok-wrong-query"), query: "token=\(wrong)"),
                expected: .refused(status: 403, rule: "token", mentioning: "not one of the configured tokens", marker: "tx-tok-wrong-query")),
            Row(name: "wrong token in X-Listener-Token",
                request: .form(form("tx-tok-wrong-header"), headers: ["X-Listener-Token: \(wrong)"]),
                expected: .refused(status: 403, rule: "token", mentioning: nil, marker: "tx-tok-wrong-header")),
            Row(name: "wrong Bearer token",
                request: .form(form("tx-tok-wrong-bearer"), headers: ["Authorization: Bearer \(wrong)"]),
                expected: .refused(status: 403, rule: "token", mentioning: nil, marker: "tx-tok-wrong-bearer")),
            Row(name: "right header but a wrong query token",
                request: .form(form("tx-tok-mixed"), query: "token=\(wrong)", headers: ["X-Listener-Token: \(new)"]),
                expected: .refused(status: 403, rule: "token", mentioning: nil, marker: "tx-tok-mixed")),
            Row(name: "no token",
                request: .form(form("tx-tok-missing")),
                expected: .refused(status: 401, rule: "token", mentioning: "no token", marker: "tx-tok-missing")),
            Row(name: "a token in the body does not count",
                request: .form(form("tx-tok-in-body") + "&token=\(new)"),
                expected: .refused(status: 401, rule: "token", mentioning: nil, marker: "tx-tok-in-body")),
            Row(name: "an empty ?token=",
                request: .form(form("tx-tok-empty"), query: "token="),
                expected: .refused(status: 401, rule: "token", mentioning: nil, marker: "tx-tok-empty")),
            Row(name: "DELETE with a valid token",
                request: VerificationRequest(method: "DELETE", query: "token=\(new)&transactionid=tx-tok-delete", contentType: nil),
                expected: .refused(status: 405, rule: "methods", mentioning: "DELETE", marker: "tx-tok-delete")),
            Row(name: "PUT with a valid token",
                request: VerificationRequest(method: "PUT", query: "token=\(new)", body: Array(form("tx-tok-put").utf8)),
                expected: .refused(status: 405, rule: "methods", mentioning: "PUT", marker: "tx-tok-put")),
            Row(name: "IPv6 client ::1 outside 2001:db8::/32, valid token",
                request: { var request = VerificationRequest.form(form("tx-tok-ipv6"), query: "token=\(new)"); request.ipv6 = true; return request }(),
                expected: .refused(status: 403, rule: "allow_from", mentioning: "::1", marker: "tx-tok-ipv6")),
            Row(name: "IPv6 client ::1 with a wrong token: allow_from answers first",
                request: { var request = VerificationRequest.form(form("tx-tok-ipv6-wrong"), query: "token=\(wrong)"); request.ipv6 = true; return request }(),
                expected: .refused(status: 403, rule: "allow_from", mentioning: "::1", marker: "tx-tok-ipv6-wrong")),
            Row(name: "IPv6 client ::1 spoofing X-Forwarded-For: 127.0.0.1",
                request: { var request = VerificationRequest.form(form("tx-tok-ipv6-xff"), query: "token=\(new)", headers: ["X-Forwarded-For: 127.0.0.1"]); request.ipv6 = true; return request }(),
                expected: .refused(status: 403, rule: "allow_from", mentioning: "::1", marker: "tx-tok-ipv6-xff")),
        ]
        try await Self.run(rows, port: nginx.port, directory: directory, listener: listener)

        let events = storedEvents(directory)
        Self.expectStored(rows, in: events)
        // The token is taken out of the query before decoding: not in any stored event, and
        // the other query parameters are kept.
        expectNoSecrets([old, new, wrong], in: readText(directory.file("data/events.jsonl")), "the stored events")
        for object in events.objects {
            let extra = object["extra"] as? [String: Any] ?? [:]
            #expect(extra["token"] == nil, "a token key was stored: \(object)")
        }
        let query = events.objects.first { $0["transactionid"] as? String == "tx-tok-query" }
        #expect((query?["extra"] as? [String: Any])?["src"] as? String == "q1", "the query's other parameter is lost: \(query ?? [:])")
        let encoded = events.objects.first { $0["transactionid"] as? String == "tx-tok-encoded" }
        #expect((encoded?["extra"] as? [String: Any])?["src"] as? String == "q2", "\(encoded ?? [:])")
        let bearer = events.objects.first { $0["transactionid"] as? String == "tx-tok-bearer" }
        #expect((bearer?["contact"] as? [String: Any])?["email"] as? String == "bea@example.com", "\(bearer ?? [:])")
        #expect((bearer?["meta"] as? [String: Any])?["method"] as? String == "GET")

        // One log line per request; refusals name the rule and the client; no credential anywhere.
        let log = listener.log
        let requestLines = RequestLogLine.parse(log)
        #expect(requestLines.map(\.status) == rows.map { row -> Int in
            if case .refused(let status, _, _, _) = row.expected { return status }
            return 200
        }, "request log:\n\(requestLines.map(\.line).joined(separator: "\n"))")
        for (row, line) in zip(rows, requestLines) {
            guard case .refused(_, let rule, _, _) = row.expected else { continue }
            #expect(line.line.contains("error=\"verify.\(rule):"), "\(row.name): the log line doesn't name the rule: \(line)")
            let client = row.request.ipv6 ? "::1" : row.request.interface ?? "127.0.0.1"
            #expect(RequestLogLine.value(of: "remote_addr", in: line.line) == client, "\(row.name): \(line)")
        }
        expectNoSecrets([old, new, wrong], in: log, "the listener's log")
        #expect(listener.process.isRunning, "\(listener.process.diagnostics())")
    }

    // MARK: - trusted proxies

    @Test("trusted_proxies [127.0.0.1]: the client's X-Forwarded-For decides, from the trusted peer only")
    func trustedProxies() async throws {
        let directory = try TestDirectory("verify-xff")
        defer { directory.remove() }
        let listener = try await startVerificationListener(in: directory, yaml: """
            verify:
              allow_from: ["198.51.100.0/24", "2001:db8::/32"]
              trusted_proxies: ["127.0.0.1"]
            handlers:
              - type: jsonl
                path: data/events.jsonl
            """)
        defer { listener.stop() }
        let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint, ipv6: true)
        defer { nginx.stop() }

        func forwarded(_ id: String, _ header: String?, interface: String? = nil, ipv6: Bool = false) -> VerificationRequest {
            var request = VerificationRequest.form(contactForm(id), headers: header.map { ["X-Forwarded-For: \($0)"] } ?? [])
            request.interface = interface
            request.ipv6 = ipv6
            return request
        }
        let rows: [Row] = [
            Row(name: "X-Forwarded-For inside the IPv4 range", request: forwarded("tx-xff-in4", "198.51.100.7"),
                expected: .stored(marker: "tx-xff-in4", remoteAddress: "198.51.100.7")),
            Row(name: "X-Forwarded-For inside the IPv6 range", request: forwarded("tx-xff-in6", "2001:db8::7"),
                expected: .stored(marker: "tx-xff-in6", remoteAddress: "2001:db8::7")),
            Row(name: "a trusted hop on the right is skipped", request: forwarded("tx-xff-hop", "198.51.100.8, 127.0.0.1"),
                expected: .stored(marker: "tx-xff-hop", remoteAddress: "198.51.100.8")),
            Row(name: "an address with a port", request: forwarded("tx-xff-port", "198.51.100.9:4711"),
                expected: .stored(marker: "tx-xff-port", remoteAddress: "198.51.100.9")),

            Row(name: "X-Forwarded-For outside the ranges", request: forwarded("tx-xff-out", "203.0.113.9"),
                expected: .refused(status: 403, rule: "allow_from", mentioning: "203.0.113.9", marker: "tx-xff-out")),
            Row(name: "an allowed address spoofed left of the real client", request: forwarded("tx-xff-left", "198.51.100.7, 203.0.113.9"),
                expected: .refused(status: 403, rule: "allow_from", mentioning: "203.0.113.9", marker: "tx-xff-left")),
            Row(name: "no X-Forwarded-For: the proxy itself is not allowed", request: forwarded("tx-xff-none", nil),
                expected: .refused(status: 403, rule: "allow_from", mentioning: "127.0.0.1", marker: "tx-xff-none")),
            Row(name: "X-Forwarded-For that is no address", request: forwarded("tx-xff-junk", "not-an-address"),
                expected: .refused(status: 403, rule: "allow_from", mentioning: "not an IP address", marker: "tx-xff-junk")),
            Row(name: "spoofed X-Forwarded-For from an untrusted peer 127.0.0.2",
                request: forwarded("tx-xff-spoof4", "198.51.100.7", interface: "127.0.0.2"),
                expected: .refused(status: 403, rule: "allow_from", mentioning: "127.0.0.2", marker: "tx-xff-spoof4")),
            Row(name: "spoofed X-Forwarded-For from an untrusted IPv6 peer ::1",
                request: forwarded("tx-xff-spoof6", "198.51.100.7", ipv6: true),
                expected: .refused(status: 403, rule: "allow_from", mentioning: "::1", marker: "tx-xff-spoof6")),
        ]
        try await Self.run(rows, port: nginx.port, directory: directory, listener: listener)
        Self.expectStored(rows, in: storedEvents(directory))

        let requestLines = RequestLogLine.parse(listener.log)
        #expect(requestLines.count == rows.count, "request log:\n\(requestLines.map(\.line).joined(separator: "\n"))")
        // The log names the decided client address.
        #expect(requestLines.first.flatMap { RequestLogLine.value(of: "remote_addr", in: $0.line) } == "198.51.100.7",
                "\(requestLines.first?.line ?? "no line")")
    }

    // MARK: - Standard Webhooks

    @Test("standard-webhooks signature: valid, stale, wrong, tampered, missing; a replay answers duplicate")
    func standardWebhooks() async throws {
        let directory = try TestDirectory("verify-whsec")
        defer { directory.remove() }
        let key = randomBytes(24)
        let encodedKey = Data(key).base64EncodedString()
        let secret = "whsec_" + encodedKey
        let otherKey = randomBytes(24)
        let listener = try await startVerificationListener(in: directory, yaml: """
            verify:
              signature: { scheme: standard-webhooks, secret: "\(secret)" }
            spool: data/spool.db
            handlers:
              - type: jsonl
                path: data/events.jsonl
            """)
        defer { listener.stop() }
        let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint)
        defer { nginx.stop() }
        let port = nginx.port

        func signed(_ body: String, id: String, timestamp: Int = unixNow, key signingKey: [UInt8]? = nil) throws -> VerificationRequest {
            let headers = try standardWebhooksHeaders(
                id: id, timestamp: timestamp, body: Array(body.utf8), key: signingKey ?? key, directory: directory)
            return .form(body, headers: headers)
        }
        func send(_ request: VerificationRequest) async throws -> HTTPResponse {
            try await verificationSendAsync(request, port: port, directory: directory).response
        }

        // A valid signed request, then the identical request again (a replay inside the tolerance).
        let first = try signed(contactForm("tx-sig-1"), id: "msg_sig_1")
        let firstAnswer = expectAccepted(try await send(first), "valid signature")
        #expect(firstAnswer["duplicate"] == nil, "\(firstAnswer)")
        let replay = expectAccepted(try await send(first), "replayed signed request")
        #expect(replay["duplicate"] as? Bool == true, "the replay should answer \"duplicate\":true: \(replay)")
        #expect(replay["transactionid"] as? String == "tx-sig-1", "\(replay)")

        // No transaction id: the replay is recognised by webhook-id.
        let shortcode = try signed("email=noid%40example.com&first=Nid", id: "msg_sig_noid")
        let noID = expectAccepted(try await send(shortcode), "signed, without transactionid")
        #expect(noID["duplicate"] == nil, "\(noID)")
        let noIDReplay = expectAccepted(try await send(shortcode), "replay without transactionid")
        #expect(noIDReplay["duplicate"] as? Bool == true, "the replay should be recognised by webhook-id: \(noIDReplay)")

        // Inside the tolerance (2 minutes old), and a header with two signatures of which one holds.
        expectAccepted(try await send(try signed(contactForm("tx-sig-2min"), id: "msg_sig_2min", timestamp: unixNow - 120)), "2 minutes old")
        var multi = try signed(contactForm("tx-sig-multi"), id: "msg_sig_multi")
        let bogus = Data(randomBytes(32)).base64EncodedString()
        multi.headers = multi.headers.map { $0.hasPrefix("webhook-signature: ") ? "webhook-signature: v1,\(bogus) " + $0.dropFirst("webhook-signature: ".count) : $0 }
        expectAccepted(try await send(multi), "two signatures, the second valid")

        // Refusals.
        expectRejected(try await send(try signed(contactForm("tx-sig-stale"), id: "msg_sig_stale", timestamp: unixNow - 600)),
                       status: 403, errorPrefix: "verify.signature:", mentioning: "stale", "10 minutes old")
        expectRejected(try await send(try signed(contactForm("tx-sig-future"), id: "msg_sig_future", timestamp: unixNow + 600)),
                       status: 403, errorPrefix: "verify.signature:", mentioning: "stale", "10 minutes ahead")
        expectRejected(try await send(.form(contactForm("tx-sig-missing"))),
                       status: 401, errorPrefix: "verify.signature:", mentioning: "webhook-signature", "unsigned")
        expectRejected(try await send(try signed(contactForm("tx-sig-wrongkey"), id: "msg_sig_wrongkey", key: otherKey)),
                       status: 403, errorPrefix: "verify.signature:", mentioning: "does not match", "another secret")
        var tampered = try signed(contactForm("tx-sig-orig"), id: "msg_sig_tamper")
        tampered.body = Array(contactForm("tx-sig-tampered").utf8)
        expectRejected(try await send(tampered), status: 403, errorPrefix: "verify.signature:", mentioning: "does not match", "tampered body")
        var otherID = try signed(contactForm("tx-sig-otherid"), id: "msg_sig_a")
        otherID.headers = otherID.headers.map { $0.hasPrefix("webhook-id:") ? "webhook-id: msg_sig_b" : $0 }
        expectRejected(try await send(otherID), status: 403, errorPrefix: "verify.signature:", mentioning: "does not match", "webhook-id changed")
        var malformed = try signed(contactForm("tx-sig-malformed"), id: "msg_sig_malformed")
        malformed.headers = malformed.headers.map { $0.hasPrefix("webhook-signature:") ? "webhook-signature: v1,not*base64" : $0 }
        expectRejected(try await send(malformed), status: 403, errorPrefix: "verify.signature:", mentioning: "malformed", "malformed signature")
        var badTime = try signed(contactForm("tx-sig-badtime"), id: "msg_sig_badtime")
        badTime.headers = badTime.headers.map { $0.hasPrefix("webhook-timestamp:") ? "webhook-timestamp: -5" : $0 }
        expectRejected(try await send(badTime), status: 403, errorPrefix: "verify.signature:", mentioning: "unix time", "timestamp not a number")

        // The spool delivers the accepted events to the jsonl handler: exactly one each.
        let accepted = ["tx-sig-1", "noid@example.com", "tx-sig-2min", "tx-sig-multi"]
        let delivered = try await offload {
            poll(timeout: 30) {
                let raw = storedEvents(directory).raw
                return accepted.allSatisfy { marker in raw.contains { $0.contains(marker) } }
            }
        }
        #expect(delivered, "the accepted events were not all delivered: \(storedEvents(directory).raw)\n\(listener.process.diagnostics())")
        // Nothing else is on its way: the spool has no delivery left open.
        try await SpoolCLI(directory: directory, configPath: listener.configPath).waitUntilSettled(delivered: accepted.count)
        let events = storedEvents(directory)
        for marker in accepted {
            #expect(events.raw.filter { $0.contains(marker) }.count == 1, "\(marker): \(events.raw.filter { $0.contains(marker) }.count) stored events")
        }
        #expect(events.raw.count == accepted.count, "stored: \(events.raw)")
        for refused in ["tx-sig-stale", "tx-sig-future", "tx-sig-missing", "tx-sig-wrongkey", "tx-sig-orig", "tx-sig-tampered",
                        "tx-sig-otherid", "tx-sig-malformed", "tx-sig-badtime"] {
            #expect(!events.raw.contains { $0.contains(refused) }, "\(refused) was stored")
        }

        let log = listener.log
        let requestLines = RequestLogLine.parse(log)
        #expect(requestLines.count == 14, "request log:\n\(requestLines.map(\.line).joined(separator: "\n"))")
        #expect(requestLines.filter { $0.line.contains("duplicate=true") }.count == 2, "\(requestLines.map(\.line))")
        expectNoSecrets([secret, encodedKey, Data(otherKey).base64EncodedString(), hexString(key)], in: log, "the listener's log")
        expectNoSecrets([secret, encodedKey], in: readText(directory.file("data/events.jsonl")), "the stored events")
    }

    // MARK: - header HMAC

    @Test("hmac signature in X-Signature (sha256, hex, prefix sha256=)")
    func headerHMAC() async throws {
        let directory = try TestDirectory("verify-hmac")
        defer { directory.remove() }
        let secret = randomToken("hmacsecret")
        let oldSecret = randomToken("hmacold")
        let listener = try await startVerificationListener(in: directory, yaml: """
            verify:
              signature:
                scheme: hmac
                header: X-Signature
                algorithm: sha256
                encoding: hex
                prefix: "sha256="
                secret: ["\(oldSecret)", "\(secret)"]
            handlers:
              - type: jsonl
                path: data/events.jsonl
            """)
        defer { listener.stop() }
        let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint)
        defer { nginx.stop() }

        func mac(_ body: String, _ key: String) throws -> String {
            hexString(try opensslHMAC(key: Array(key.utf8), message: Array(body.utf8), directory: directory))
        }
        func request(_ id: String, header: (String) throws -> String?) throws -> VerificationRequest {
            let body = contactForm(id)
            return .form(body, headers: try header(body).map { ["X-Signature: \($0)"] } ?? [])
        }
        let wrongSecret = randomToken("hmacwrong")
        let rows: [Row] = [
            Row(name: "valid", request: try request("tx-hmac-ok") { "sha256=" + (try mac($0, secret)) },
                expected: .stored(marker: "tx-hmac-ok", remoteAddress: "127.0.0.1")),
            Row(name: "valid under the old secret (rotation)", request: try request("tx-hmac-old") { "sha256=" + (try mac($0, oldSecret)) },
                expected: .stored(marker: "tx-hmac-old", remoteAddress: "127.0.0.1")),
            Row(name: "prefix and hex in upper case", request: try request("tx-hmac-upper") { "SHA256=" + (try mac($0, secret)).uppercased() },
                expected: .stored(marker: "tx-hmac-upper", remoteAddress: "127.0.0.1")),
            Row(name: "missing header", request: try request("tx-hmac-missing") { _ in nil },
                expected: .refused(status: 401, rule: "signature", mentioning: "X-Signature", marker: "tx-hmac-missing")),
            Row(name: "wrong secret", request: try request("tx-hmac-wrong") { "sha256=" + (try mac($0, wrongSecret)) },
                expected: .refused(status: 403, rule: "signature", mentioning: "does not match", marker: "tx-hmac-wrong")),
            Row(name: "tampered body", request: try request("tx-hmac-tampered") { _ in "sha256=" + (try mac(contactForm("tx-hmac-x"), secret)) },
                expected: .refused(status: 403, rule: "signature", mentioning: "does not match", marker: "tx-hmac-tampered")),
            Row(name: "without the prefix", request: try request("tx-hmac-noprefix") { try mac($0, secret) },
                expected: .refused(status: 403, rule: "signature", mentioning: "prefix", marker: "tx-hmac-noprefix")),
            Row(name: "base64 instead of hex", request: try request("tx-hmac-b64") {
                    "sha256=" + Data(try opensslHMAC(key: Array(secret.utf8), message: Array($0.utf8), directory: directory)).base64EncodedString()
                },
                expected: .refused(status: 403, rule: "signature", mentioning: "malformed", marker: "tx-hmac-b64")),
            Row(name: "a truncated MAC", request: try request("tx-hmac-short") { "sha256=" + String(try mac($0, secret).prefix(40)) },
                expected: .refused(status: 403, rule: "signature", mentioning: "malformed", marker: "tx-hmac-short")),
        ]
        try await Self.run(rows, port: nginx.port, directory: directory, listener: listener)
        Self.expectStored(rows, in: storedEvents(directory))
        let log = listener.log
        #expect(RequestLogLine.parse(log).count == rows.count, "\(log)")
        expectNoSecrets([secret, oldSecret, wrongSecret], in: log, "the listener's log")
        expectNoSecrets([secret, oldSecret], in: readText(directory.file("data/events.jsonl")), "the stored events")
    }
}

/// The FastCGI socket itself (SECURITY.md): who may connect.
@Suite("verification: the FastCGI socket")
struct VerificationSocketTests {
    @Test("FCGI_WEB_SERVER_ADDRS: a TCP listener refuses nginx from 127.0.0.1 unless that address is listed")
    func webServerAddresses() async throws {
        let directory = try TestDirectory("verify-fcgiaddr")
        defer { directory.remove() }
        let yaml = """
            handlers:
              - type: jsonl
                path: data/events.jsonl
            """

        // Only 127.0.0.2 may connect: nginx connects from 127.0.0.1 and is turned away at accept.
        do {
            let listener = try await startVerificationListener(
                in: directory, yaml: yaml, endpoint: try SpoolServer.tcpEndpoint(), environment: ["FCGI_WEB_SERVER_ADDRS": "127.0.0.2"])
            defer { listener.stop() }
            let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint)
            defer { nginx.stop() }
            let response = try await verificationSendAsync(.form(contactForm("tx-fcgi-refused")), port: nginx.port, directory: directory).response
            #expect(response.status == 502, "nginx from 127.0.0.1 should be refused: \(response)\n\(nginx.diagnostics())")
            #expect(RequestLogLine.parse(listener.log).isEmpty, "the refused connection reached the pipeline: \(listener.log)")
            #expect(listener.process.isRunning, "\(listener.process.diagnostics())")
            nginx.stop()
            #expect(listener.stop() == .exited(0), "\(listener.process.diagnostics())")
        }
        #expect(storedEvents(directory).raw.isEmpty)

        // With 127.0.0.1 in the list, the same setup works.
        do {
            let listener = try await startVerificationListener(
                in: directory, yaml: yaml, endpoint: try SpoolServer.tcpEndpoint(),
                environment: ["FCGI_WEB_SERVER_ADDRS": "127.0.0.2,127.0.0.1"])
            defer { listener.stop() }
            let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint)
            defer { nginx.stop() }
            let response = try await verificationSendAsync(.form(contactForm("tx-fcgi-allowed")), port: nginx.port, directory: directory).response
            expectAccepted(response, "nginx from an allowed address\n\(nginx.diagnostics())")
            #expect(RequestLogLine.parse(listener.log).map(\.status) == [200], "\(listener.log)")
        }
        let events = storedEvents(directory)
        #expect(events.raw.count == 1 && events.raw.first?.contains("tx-fcgi-allowed") == true, "\(events.raw)")
    }

    @Test("the unix socket: 0660 with socket_group by default, socket_mode 0600 honoured")
    func socketModeAndGroup() async throws {
        let directory = try TestDirectory("verify-sockmode")
        defer { directory.remove() }
        let group = Network.isRoot ? "nogroup" : nil
        let expectedGID: gid_t? = group.flatMap { name in getgrnam(name).map { $0.pointee.gr_gid } }

        func socketStat(_ path: String) throws -> stat {
            var status = stat()
            guard lstat(path, &status) == 0 else { throw TestFailure("lstat \(path): \(String(cString: strerror(errno)))") }
            return status
        }

        // Default mode (0660) with the configured group; nginx's worker (nobody, in nogroup) connects.
        do {
            let listener = try await startVerificationListener(in: directory, yaml: """
                handlers:
                  - type: jsonl
                    path: data/events.jsonl
                """)
            defer { listener.stop() }
            guard case .unix(let path) = listener.endpoint else { throw TestFailure("not a unix socket") }
            let status = try socketStat(path)
            #expect(status.st_mode & S_IFMT == S_IFSOCK, "\(path) is not a socket")
            #expect(status.st_mode & 0o7777 == 0o660, "mode is 0\(String(status.st_mode & 0o7777, radix: 8)), expected 0660")
            if let expectedGID { #expect(status.st_gid == expectedGID, "gid \(status.st_gid), expected \(expectedGID) (\(group ?? ""))") }
            let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint)
            defer { nginx.stop() }
            let response = try await verificationSendAsync(.form(contactForm("tx-sock-0660")), port: nginx.port, directory: directory).response
            expectAccepted(response, "through a 0660 socket\n\(nginx.diagnostics())")
        }

        // socket_mode 0600: only the owner; nginx's `nobody` worker can no longer connect.
        do {
            let listener = try await startVerificationListener(in: directory, yaml: """
                socket_mode: "0600"
                handlers:
                  - type: jsonl
                    path: data/events.jsonl
                """)
            defer { listener.stop() }
            guard case .unix(let path) = listener.endpoint else { throw TestFailure("not a unix socket") }
            let status = try socketStat(path)
            #expect(status.st_mode & S_IFMT == S_IFSOCK)
            #expect(status.st_mode & 0o7777 == 0o600, "mode is 0\(String(status.st_mode & 0o7777, radix: 8)), expected 0600")
            if let expectedGID { #expect(status.st_gid == expectedGID, "gid \(status.st_gid), expected \(expectedGID)") }
            if Network.isRoot {
                let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint)
                defer { nginx.stop() }
                let response = try await verificationSendAsync(.form(contactForm("tx-sock-0600")), port: nginx.port, directory: directory).response
                #expect(response.status == 502, "nginx's worker (nobody) should not reach a 0600 root socket: \(response)")
                #expect(nginx.errorLog.contains("Permission denied"), "\(nginx.diagnostics())")
            }
        }
        let raw = storedEvents(directory).raw
        #expect(raw.count == 1 && raw.first?.contains("tx-sock-0660") == true, "\(raw)")
    }
}
