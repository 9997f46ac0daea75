import Foundation
import Testing

/// Request bodies as the platform sends them, and what the listener must store for them.
enum Fixtures {
    /// A structured POST with every section, exactly as PHP's `http_build_query` encodes it
    /// (produced by php-cli from the nested array; `lead-status` is one object, `source` is
    /// a key outside the model, the note has a newline, `&`, `%`, quotes and UTF-8).
    static let structuredBody =
        "transactionid=tx-structured-1&contact%5Bid%5D=1001&contact%5Bemail%5D=ann.lee%2Btest%40example.com"
        + "&contact%5Bphone%5D=%2B47+555+01+234"
        + "&contact%5Bprofile_url%5D=https%3A%2F%2Fcrm.example.com%2Fcontacts%2F1001%3Ftab%3Da%26b%3Dc"
        + "&fields%5B0%5D%5Bid%5D=1&fields%5B0%5D%5Bname%5D=City&fields%5B0%5D%5Bvalue%5D=Oslo"
        + "&fields%5B1%5D%5Bid%5D=2&fields%5B1%5D%5Bname%5D=Note"
        + "&fields%5B1%5D%5Bvalue%5D=Line+one%0ALine+two+%26+100%25+%22quoted%22+%C3%86%C3%98%C3%85"
        + "&campaigns-opened%5B0%5D%5Bid%5D=31&campaigns-opened%5B0%5D%5Bname%5D=Spring+sale"
        + "&campaigns-opened%5B0%5D%5Bopen_date%5D=2026-03-01+10%3A00%3A00"
        + "&links-clicked%5B0%5D%5Burl%5D=https%3A%2F%2Fexample.com%2Foffer%3Fx%3D1%26y%3D2&links-clicked%5B0%5D%5Bclicks%5D=3"
        + "&pages-visited%5B0%5D%5Bpage%5D=https%3A%2F%2Fexample.com%2Fpricing"
        + "&pages-visited%5B0%5D%5Bvisit_date%5D=2026-03-02+11%3A00%3A00"
        + "&automation-triggered%5B0%5D%5Bid%5D=7&automation-triggered%5B0%5D%5Bname%5D=Welcome+flow"
        + "&automation-triggered%5B0%5D%5Btrigger_date%5D=2026-03-03+12%3A00%3A00"
        + "&goals-reached%5B0%5D%5Bid%5D=8&goals-reached%5B0%5D%5Bname%5D=Signed+up"
        + "&goals-reached%5B0%5D%5Breach_date%5D=2026-03-04+13%3A00%3A00"
        + "&webhooks-triggered%5B0%5D%5Bid%5D=9&webhooks-triggered%5B0%5D%5Bname%5D=CRM+sync"
        + "&webhooks-triggered%5B0%5D%5Btrigger_date%5D=2026-03-05+14%3A00%3A00"
        + "&lead-score%5B0%5D%5Bid%5D=10&lead-score%5B0%5D%5Bname%5D=Engagement&lead-score%5B0%5D%5Bscore%5D=42"
        + "&lead-score%5B0%5D%5Bscore_date%5D=2026-03-06+15%3A00%3A00"
        + "&lead-status%5Bscore%5D=42&lead-status%5Blabel%5D=Warm&source=integration-test"

    /// What must be stored for `structuredBody` (without `meta`, checked on its own).
    static let structuredEvent = """
        {"transactionid":"tx-structured-1",
         "contact":{"id":"1001","email":"ann.lee+test@example.com","phone":"+47 555 01 234",
                    "profile_url":"https://crm.example.com/contacts/1001?tab=a&b=c"},
         "fields":[{"id":"1","name":"City","value":"Oslo"},
                   {"id":"2","name":"Note","value":"Line one\\nLine two & 100% \\"quoted\\" ÆØÅ"}],
         "campaigns-opened":[{"id":"31","name":"Spring sale","open_date":"2026-03-01 10:00:00"}],
         "links-clicked":[{"url":"https://example.com/offer?x=1&y=2","clicks":"3"}],
         "pages-visited":[{"page":"https://example.com/pricing","visit_date":"2026-03-02 11:00:00"}],
         "automation-triggered":[{"id":"7","name":"Welcome flow","trigger_date":"2026-03-03 12:00:00"}],
         "goals-reached":[{"id":"8","name":"Signed up","reach_date":"2026-03-04 13:00:00"}],
         "webhooks-triggered":[{"id":"9","name":"CRM sync","trigger_date":"2026-03-05 14:00:00"}],
         "lead-score":[{"id":"10","name":"Engagement","score":"42","score_date":"2026-03-06 15:00:00"}],
         "lead-status":[{"score":"42","label":"Warm"}],
         "extra":{"source":"integration-test"}}
        """

    /// The platform's GET shortcode URL: flat parameters.
    static let shortcodeQuery = "email=ann%40example.com&first=Ann&phone=%2B4755501234"

    /// What must be stored for `shortcodeQuery`.
    static let shortcodeEvent = """
        {"transactionid":null,
         "contact":{"id":null,"email":"ann@example.com","phone":"+4755501234","profile_url":null},
         "fields":[{"id":null,"name":"first","value":"Ann"}],
         "campaigns-opened":[],"links-clicked":[],"pages-visited":[],"automation-triggered":[],
         "goals-reached":[],"webhooks-triggered":[],"lead-score":[],"lead-status":[],"extra":{}}
        """

    /// A JSON body with the same structure.
    static let jsonBody = """
        {"transactionid":"tx-json-1","contact":{"id":"77","email":"jo@example.com"},\
        "fields":[{"name":"Plan","value":"Basic"}],"lead-status":{"score":"10","label":"Cold"},"tags":["a","b"]}
        """

    static let jsonEvent = """
        {"transactionid":"tx-json-1",
         "contact":{"id":"77","email":"jo@example.com","phone":null,"profile_url":null},
         "fields":[{"id":null,"name":"Plan","value":"Basic"}],
         "campaigns-opened":[],"links-clicked":[],"pages-visited":[],"automation-triggered":[],
         "goals-reached":[],"webhooks-triggered":[],"lead-score":[],"lead-status":[{"score":"10","label":"Cold"}],
         "extra":{"tags":["a","b"]}}
        """

    /// A multipart/form-data body (as `curl -F` or a browser form sends it).
    static let multipartBoundary = "----contactListenerBoundary7MA4YWxk"
    static var multipartBody: String {
        let parts = [
            ("transactionid", "tx-multipart-1"), ("contact[email]", "mia@example.com"),
            ("fields[0][name]", "Plan"), ("fields[0][value]", "Pro & more\r\nsecond line"),
        ]
        var body = ""
        for (name, value) in parts {
            body += "--\(multipartBoundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n"
        }
        return body + "--\(multipartBoundary)--\r\n"
    }

    static let multipartEvent = """
        {"transactionid":"tx-multipart-1",
         "contact":{"id":null,"email":"mia@example.com","phone":null,"profile_url":null},
         "fields":[{"id":null,"name":"Plan","value":"Pro & more\\r\\nsecond line"}],
         "campaigns-opened":[],"links-clicked":[],"pages-visited":[],"automation-triggered":[],
         "goals-reached":[],"webhooks-triggered":[],"lead-score":[],"lead-status":[],"extra":{}}
        """

    /// A valid form body of `size` bytes (one long custom field).
    static func largeForm(size: Int, transactionID: String) -> String {
        let head = "transactionid=\(transactionID)&fields%5B0%5D%5Bname%5D=Blob&fields%5B0%5D%5Bvalue%5D="
        return head + String(repeating: "x", count: max(0, size - head.utf8.count))
    }

    /// The top-level keys of a stored line, in the order they must appear.
    static let storedKeyOrder = [
        "transactionid", "contact", "fields", "campaigns-opened", "links-clicked", "pages-visited",
        "automation-triggered", "goals-reached", "webhooks-triggered", "lead-score", "lead-status", "extra", "meta",
    ]
}

/// One row of the request table run against nginx → listener.
struct TableCase: Sendable {
    enum Expected: Sendable {
        /// 200, and this event (minus meta) stored, with `meta.method` and `meta.mode`.
        case stored(transactionID: String?, event: String, mode: String)
        /// This status, an `{"ok":false,"error":…}` naming `mentioning`, nothing stored.
        case rejected(status: Int, mentioning: String)
    }

    let name: String
    let request: HTTPRequest
    let expected: Expected

    var status: Int {
        switch expected {
        case .stored: return 200
        case .rejected(let status, _): return status
        }
    }
}

extension Fixtures {
    /// The listener's body limit in the table tests (nginx's client_max_body_size is 1m).
    static let tableMaxBodyBytes = 4096

    /// The table of test 1 and 2: every input format, and every kind of refusal.
    static let table: [TableCase] = [
        TableCase(name: "structured POST with all sections", request: .form(structuredBody),
                  expected: .stored(transactionID: "tx-structured-1", event: structuredEvent, mode: "structured")),
        TableCase(name: "GET shortcode", request: .get(shortcodeQuery),
                  expected: .stored(transactionID: nil, event: shortcodeEvent, mode: "shortcode")),
        TableCase(name: "JSON body",
                  request: HTTPRequest(method: "POST", contentType: "application/json", body: Array(jsonBody.utf8)),
                  expected: .stored(transactionID: "tx-json-1", event: jsonEvent, mode: "structured")),
        TableCase(name: "multipart body",
                  request: HTTPRequest(method: "POST", contentType: "multipart/form-data; boundary=\(multipartBoundary)",
                                       body: Array(multipartBody.utf8)),
                  expected: .stored(transactionID: "tx-multipart-1", event: multipartEvent, mode: "structured")),
        TableCase(name: "PUT", request: HTTPRequest(method: "PUT", contentType: "application/x-www-form-urlencoded",
                                                    body: Array("transactionid=tx-put&contact%5Bemail%5D=a%40b.c".utf8)),
                  expected: .rejected(status: 405, mentioning: "PUT")),
        TableCase(name: "text/plain", request: HTTPRequest(method: "POST", contentType: "text/plain",
                                                           body: Array("transactionid=tx-text".utf8)),
                  expected: .rejected(status: 415, mentioning: "text/plain")),
        TableCase(name: "fields=abc", request: .form("transactionid=tx-malformed&fields=abc"),
                  expected: .rejected(status: 400, mentioning: "'fields'")),
        TableCase(name: "body over limits.max_body_bytes",
                  request: .form(largeForm(size: tableMaxBodyBytes * 3, transactionID: "tx-too-large")),
                  expected: .rejected(status: 413, mentioning: "max_body_bytes")),
        TableCase(name: "DELETE without body", request: HTTPRequest(method: "DELETE"),
                  expected: .rejected(status: 405, mentioning: "DELETE")),
    ]
}

/// Checks a stored line against the expected event (every key but `meta`), and its `meta`.
func expectStoredLine(
    _ line: String, equals expectedEvent: String, requestID: String?, method: String, mode: String,
    remoteAddress: String?, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    var stored = try jsonObject(line)
    let meta = stored.removeValue(forKey: "meta") as? [String: Any]
    let expected = try jsonObject(expectedEvent)
    #expect(NSDictionary(dictionary: stored).isEqual(to: expected),
            "stored line differs from the expected event\nstored:   \(line)\nexpected: \(expectedEvent)",
            sourceLocation: sourceLocation)
    // The key order is part of the format (readers may stream it).
    let positions = Fixtures.storedKeyOrder.map { line.range(of: "\"\($0)\":")?.lowerBound }
    #expect(positions.allSatisfy { $0 != nil }, "a top-level key is missing: \(line)", sourceLocation: sourceLocation)
    let found = positions.compactMap { $0 }
    #expect(found == found.sorted(), "top-level keys out of order: \(line)", sourceLocation: sourceLocation)

    let metaValue = try #require(meta, "no meta object in \(line)", sourceLocation: sourceLocation)
    #expect(Set(metaValue.keys) == ["received_at", "remote_addr", "request_id", "method", "mode"],
            sourceLocation: sourceLocation)
    if let requestID { #expect(metaValue["request_id"] as? String == requestID, sourceLocation: sourceLocation) }
    #expect(metaValue["method"] as? String == method, sourceLocation: sourceLocation)
    #expect(metaValue["mode"] as? String == mode, sourceLocation: sourceLocation)
    #expect(metaValue["remote_addr"] as? String == remoteAddress, sourceLocation: sourceLocation)
    let receivedAt = metaValue["received_at"] as? String ?? ""
    #expect(receivedAt.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil,
            "received_at '\(receivedAt)' is not RFC 3339 UTC with milliseconds", sourceLocation: sourceLocation)
}
