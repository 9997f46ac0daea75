import ContactListenerKit
import ContactListenerRuntime
import ListenerSupport
import ListenerSupport
import ArgumentParser
import AsyncHTTPClient
import NIOCore
import NIOHTTP1

extension ContactListener {
    /// `contact-listener send-test URL`: send what the platform would, and explain the answer.
    package struct SendTest: ParsableCommand {
        /// Help for `send-test`.
        package static let configuration = CommandConfiguration(
            commandName: "send-test",
            abstract: "Send a realistic test contact to a listener URL, as the platform would, and say whether it was stored.",
            discussion: """
                The POST carries every section (contact, custom fields, campaigns, clicks, pages, \
                automations, goals, webhooks, lead score and status), encoded exactly as PHP's \
                http_build_query. With --get it sends the shortcode form instead \
                (?email=…&first=…). Exit status 0 when the listener stored it.

                Examples:
                  contact-listener send-test http://127.0.0.1:8080/contact-listener
                  contact-listener send-test https://crm.example.com/hook-3f9a --token "$TOKEN"
                """)

        @Argument(help: "The listener's URL, as given to the platform.")
        var url: String

        @Option(name: .long, help: ArgumentHelp("Add ?token=… (the `verify: token` secret).", valueName: "token"))
        var token: String?

        @Flag(name: .long, help: "Send a GET with shortcode parameters instead of the POST.")
        var get = false

        @Option(name: .long, help: ArgumentHelp("The test contact's email.", valueName: "address"))
        var email = "ann.example@example.com"

        @Option(name: .long, help: ArgumentHelp("Give up after this long (default 15s).", valueName: "duration"))
        var timeout = "15s"

        /// Creates the command (ArgumentParser needs it).
        package init() {}

        /// Runs `send-test`.
        package func run() throws {
            let transactionID = "send-test-\(RequestIDGenerator().next())"
            var target = url
            var body: [UInt8] = []
            if get {
                let query = PHPQueryEncoder.encode(FormArray([
                    (.string("transactionid"), .string(transactionID)), (.string("email"), .string(email)),
                    (.string("first"), .string("Ann")), (.string("last"), .string("Example")), (.string("city"), .string("Oslo")),
                ]))
                target += (target.contains("?") ? "&" : "?") + query
            } else {
                body = Array(PHPQueryEncoder.encode(Self.samplePayload(transactionID: transactionID, email: email)).utf8)
            }
            if let token { target += (target.contains("?") ? "&" : "?") + "token=" + PHPQueryEncoder.urlencode(token) }
            guard let milliseconds = DurationText.milliseconds(timeout) else { throw ValidationError("--timeout takes a duration like 15s") }
            print("\(get ? "GET" : "POST") \(url)\(get ? "" : " (\(body.count) bytes, form-encoded like the platform)")")
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            defer { try? client.syncShutdown() }
            var request = try HTTPClient.Request(url: target, method: get ? .GET : .POST)
            request.headers.add(name: "User-Agent", value: "contact-listener-send-test/\(ContactListener.version)")
            if !get {
                request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                request.body = .bytes(body)
            }
            let response: HTTPClient.Response
            do {
                response = try client.execute(request: request, deadline: .now() + .milliseconds(milliseconds)).wait()
            } catch {
                print("✗ no answer: \(error)")
                print("  Nothing answered at that address: check the host and port, that the web server runs, and any firewall.")
                throw ExitCode(2)
            }
            let status = Int(response.status.code)
            let text = response.body.map { String(buffer: $0) } ?? ""
            print("← \(status) \(text.trimmingCharacters(in: " \r\n").prefix(300))")
            let verdict = Self.explain(status: status, body: text, transactionID: transactionID)
            print(verdict.message)
            if !verdict.stored { throw ExitCode(1) }
        }

        /// What an answer means, in plain words.
        static func explain(status: Int, body: String, transactionID: String) -> (stored: Bool, message: String) {
            let isListener = body.contains("\"ok\":")
            switch status {
            case 200 where body.contains("\"ok\":true"):
                if body.contains("\"duplicate\":true") { return (true, "✓ already stored earlier (duplicate transaction id)") }
                return (true, "✓ stored: transaction \(transactionID). Look for it in your handler's output (or `contact-listener spool list`).")
            case 200:
                return (false, "✗ a 200 that is not the listener's answer: the URL reaches something else (a PHP page, a static file?). Check the location in the web server's config.")
            case 401:
                return (false, "✗ refused: no token or signature was sent. Add --token (and put ?token=… in the platform's URL).")
            case 403 where isListener:
                return (false, "✗ refused by the listener: the token or signature is wrong, or this address is outside verify.allow_from (see the error above).")
            case 403:
                return (false, "✗ refused by the web server (403): an allow/deny rule or file permissions block the location.")
            case 404:
                return (false, "✗ nothing at this path (404): check the location/ScriptAlias in the web server's config.")
            case 405:
                return (false, "✗ method not allowed: the platform sends GET or POST; check limit_except/LimitExcept and verify.methods.")
            case 413:
                return (false, "✗ too large (413): raise client_max_body_size (nginx), LimitRequestBody (Apache) or limits.max_body_bytes.")
            case 400, 415:
                return (false, "✗ the listener could not read the contact (see the error above).")
            case 500:
                return (false, "✗ the web server failed (500): for CGI look at its error log (suEXEC needs 755 and your user as owner); mod_fcgid answers 500 above FcgidMaxRequestLen.")
            case 502:
                return (false, "✗ the web server can't reach the listener (502): is `contact-listener serve` running, is the socket path right, may the web server's user reach its folder, and may its group open the socket (socket_group)? The web server's error log names the cause.")
            case 503 where isListener:
                return (false, "✗ the listener could not store the event (503): see the error above and the listener's log; nothing was acknowledged.")
            case 503:
                return (false, "✗ service unavailable (503) from the web server: the listener is down or overloaded.")
            case 504:
                return (false, "✗ the web server gave up waiting (504): the listener is stuck or its storage is very slow; check its log.")
            default:
                return (false, "✗ unexpected answer \(status).")
            }
        }

        /// A contact with every section the platform sends.
        static func samplePayload(transactionID: String, email: String) -> FormArray {
            func record(_ pairs: [(String, String)]) -> FormValue {
                .array(FormArray(pairs.map { (FormKey($0.0), FormValue.string($0.1)) }))
            }
            func list(_ records: [FormValue]) -> FormValue {
                .array(FormArray(records.enumerated().map { (FormKey.int($0.offset), $0.element) }))
            }
            let now = Timestamp.now().prefix(19).replacingT()
            return FormArray([
                (.string("transactionid"), .string(transactionID)),
                (.string("contact"), record([("id", "900001"), ("email", email), ("phone", "+47 555 01 234"), ("profile_url", "https://app.example.com/contacts/900001")])),
                (.string("fields"), list([
                    record([("id", "1"), ("name", "First Name"), ("value", "Ann")]),
                    record([("id", "2"), ("name", "Last Name"), ("value", "Example")]),
                    record([("id", "3"), ("name", "City"), ("value", "Oslo")]),
                    record([("id", "4"), ("name", "Notes"), ("value", "Sent by contact-listener send-test; safe to delete. ÆØÅ & <b>")]),
                ])),
                (.string("campaigns-opened"), list([record([("id", "71"), ("name", "Spring newsletter"), ("open_date", now)])])),
                (.string("links-clicked"), list([record([("url", "https://example.com/offer?utm_source=mail"), ("clicks", "2")])])),
                (.string("pages-visited"), list([record([("page", "https://example.com/pricing"), ("visit_date", now)])])),
                (.string("automation-triggered"), list([record([("id", "12"), ("name", "Welcome journey"), ("trigger_date", now)])])),
                (.string("goals-reached"), list([record([("id", "5"), ("name", "Requested a demo"), ("reach_date", now)])])),
                (.string("webhooks-triggered"), list([record([("id", "8"), ("name", "Sync to listener"), ("trigger_date", now)])])),
                (.string("lead-score"), list([record([("id", "3"), ("name", "Engagement"), ("score", "42"), ("score_date", now)])])),
                (.string("lead-status"), record([("score", "42"), ("label", "Warm")])),
            ])
        }
    }
}

extension Substring {
    /// `2026-11-29T08:00:00` → `2026-11-29 08:00:00`, the platform's date style.
    fileprivate func replacingT() -> String {
        String(map { $0 == "T" ? " " : $0 })
    }
}
