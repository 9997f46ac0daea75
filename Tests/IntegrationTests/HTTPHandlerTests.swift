import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `type: http`: what exactly reaches the backend (the recorder) for a body template, a
/// text template and the default body, with headers holding ${ENV} secrets.
@Suite("http handler: forwarded requests")
struct HTTPHandlerTests {
    @Test("template body and headers arrive exactly as mapped; the default body is the stored event JSON")
    func templateAndDefaultBody() async throws {
        let bench = try TestBench("http-fwd")
        defer { bench.tearDown() }
        let directory = bench.directory
        let recorder = try await bench.recorder()
        let environment = ["CRM_URL": recorder.url, "CRM_TOKEN": "s3cr3t-t0ken"]
        let stack = try await bench.stack(config: TestBench.spoolConfig(handlers: """
                  - type: http
                    name: crm
                    url: "${CRM_URL}/v1/contacts?source=listener"
                    method: PUT
                    headers:
                      Authorization: "Bearer ${CRM_TOKEN}"
                      X-Api-Key: "${CRM_KEY:-fallback-key}"
                      X-Literal: static value
                    body:
                      email: "{{contact.email}}"
                      first_name: "{{field:First Name}}"
                      nickname: "{{field:Nickname}}"
                      greeting: "Hello {{field:First Name}} <{{contact.email}}>, {{field:Nickname}}!"
                      transaction: "{{transactionid}}"
                      score: "{{lead_status.score}}"
                      source: contact-listener
                      active: true
                      weight: 1.5
                      count: 42
                      nothing: null
                      quoted_number: "42"
                      phones: ["{{contact.phone}}", fixed]
                      nested: { id: "{{contact.id}}", request: "{{meta.request_id}}", campaign: "{{extra.campaign}}" }
                  - type: http
                    name: form
                    url: "${CRM_URL}/form"
                    idempotency_header: ""
                    content_type: application/x-www-form-urlencoded
                    body: "email={{contact.email}}&name={{field:First Name}}&note={{field:Note}}&missing={{field:Nickname}}"
                  - type: http
                    name: raw
                    url: "${CRM_URL}/raw"
                    idempotency_header: X-Event-Id

                """), environment: environment)

        let body = formBody([
            ("transactionid", "tx-http-1"), ("contact[email]", "ann.lee+crm@example.com"), ("contact[phone]", "+47 555 01 234"),
            ("fields[0][name]", "First Name"), ("fields[0][value]", "Ann \"Annie\" Lee"),
            ("fields[1][name]", "Note"), ("fields[1][value]", "a&b=c d/ü"),
            ("lead-status[score]", "42"), ("lead-status[label]", "Warm"), ("campaign", "spring"),
        ])
        let answer = try await stack.postAccepted(body)
        let requestID = try #require(answer["request_id"] as? String)
        try await stack.cli.waitUntilSettled(delivered: 4)
        #expect(stack.stop() == .exited(0))

        let requests = try recorder.requests()
        #expect(requests.count == 3, "one request per http handler: \(requests)")

        // The template: method, path and query, headers with the secrets expanded, the body
        // byte for byte (key order, literal types, a missing field as null).
        let crm = try #require(requests.first { $0.path.hasPrefix("/v1/contacts") })
        #expect(crm.method == "PUT")
        #expect(crm.path == "/v1/contacts?source=listener")
        #expect(crm.header("Authorization") == "Bearer s3cr3t-t0ken")
        #expect(crm.header("X-Api-Key") == "fallback-key")
        #expect(crm.header("X-Literal") == "static value")
        #expect(crm.header("Content-Type") == "application/json")
        #expect(crm.header("User-Agent")?.hasPrefix("contact-listener/") == true, "\(String(describing: crm.header("User-Agent")))")
        #expect(crm.header("Idempotency-Key") == requestID, "the event's request id, by default")
        let expectedTemplate = #"{"email":"ann.lee+crm@example.com","first_name":"Ann \"Annie\" Lee","nickname":null,"#
            + #""greeting":"Hello Ann \"Annie\" Lee <ann.lee+crm@example.com>, !","transaction":"tx-http-1","score":"42","#
            + #""source":"contact-listener","active":true,"weight":1.5,"count":42,"nothing":null,"quoted_number":"42","#
            + #""phones":["+47 555 01 234","fixed"],"nested":{"id":null,"request":"\#(requestID)","campaign":"spring"}}"#
        #expect(crm.body == expectedTemplate, "template body\n got: \(crm.body)\nwant: \(expectedTemplate)")
        // Whatever the JSON writer's spacing, the values must be these.
        let parsed = try crm.json()
        #expect(canonicalJSON(parsed) == (try canonicalJSON(text: expectedTemplate)), "\(crm.body)")
        #expect(parsed["nickname"] is NSNull && parsed["nothing"] is NSNull)
        #expect(parsed["quoted_number"] as? String == "42", "a quoted YAML scalar stays a string")

        // A text template for a form-encoded body: values percent-encoded, a missing one empty.
        let form = try #require(requests.first { $0.path == "/form" })
        #expect(form.method == "POST")
        #expect(form.header("Content-Type") == "application/x-www-form-urlencoded")
        #expect(form.header("Idempotency-Key") == nil, "idempotency_header: \"\" sends none")
        #expect(form.body == "email=ann.lee%2Bcrm%40example.com&name=Ann%20%22Annie%22%20Lee&note=a%26b%3Dc%20d%2F%C3%BC&missing=",
                "form body: \(form.body)")

        // No body: the event's JSON, byte for byte what the spool and the jsonl handler hold.
        let raw = try #require(requests.first { $0.path == "/raw" })
        #expect(raw.method == "POST")
        #expect(raw.header("Content-Type") == "application/json")
        #expect(raw.header("Authorization") == nil, "a handler without headers sends no secret")
        #expect(raw.header("X-Event-Id") == requestID && raw.header("Idempotency-Key") == nil, "idempotency_header renames it")
        let lines = JSONLines(path: directory.file("events.jsonl"))
        #expect(lines.raw.count == 1)
        #expect(raw.body == lines.raw.first, "default body\n got: \(raw.body)\nwant: \(lines.raw.first ?? "")")
        let event = try raw.json()
        #expect(event["transactionid"] as? String == "tx-http-1")
        #expect((event["meta"] as? [String: Any])?["request_id"] as? String == requestID)
        #expect((event["contact"] as? [String: Any])?["email"] as? String == "ann.lee+crm@example.com")
        #expect((event["extra"] as? [String: Any])?["campaign"] as? String == "spring")
        let spoolID = try #require(try stack.cli.list(handler: "raw").first.map(rowID))
        let shown = try stack.cli.show(spoolID)
        #expect(canonicalJSON(shown["event"] ?? NSNull()) == canonicalJSON(event), "spool show differs from what was sent")
    }

    @Test("check-config rejects an unknown placeholder, a non-http URL, header names RFC 9110 forbids, numbers JSON can't carry and bodies the content type can't encode, with file:line errors",
          arguments: [
              ("unknown", "body:\n      email: \"{{contact.mail}}\"", 5, "{{contact.mail}}"),
              ("scheme", "", 3, "ftp://example.com/x"),
              ("header", "headers:\n      \"X Api Key\": abc", 5, "'X Api Key' is not a header name"),
              ("idempotency", "idempotency_header: \"Idempotency Key\"", 4, "'Idempotency Key' is not a header name"),
              ("leading-zero", "body:\n      ok: 1.5\n      zip: 01234", 6, "handlers[0].body.zip: '01234' is not a JSON number"),
              ("half-number", "body:\n      nested: { n: .5 }", 5, "handlers[0].body.nested.n: '.5' is not a JSON number"),
              ("hex", "body: [0x10]", 4, "handlers[0].body[0]: '0x10' is not a JSON number"),
              ("huge", "body:\n      n: 1e400", 5, "handlers[0].body.n: '1e400'"),
              ("nan", "body:\n      n: nan", 5, "handlers[0].body.n: 'nan' is not a JSON number"),
              ("text-type", "content_type: text/plain\n    body: \"Hi {{contact.email}}\"", 5, "handlers[0].body: "),
              ("json-text", "body: '{\"email\": {{contact.email}}'", 4, "handlers[0].body: "),
              ("form-event", "content_type: application/x-www-form-urlencoded", 4, "handlers[0].content_type: "),
          ])
    func configErrors(name: String, options: String, line: Int, mentioning: String) async throws {
        let bench = try TestBench("http-cfg")
        defer { bench.tearDown() }
        let directory = bench.directory
        let url = name == "scheme" ? "ftp://example.com/x" : "http://127.0.0.1:9/x"
        let config = try directory.write("\(name).yaml", """
            handlers:
              - type: http
                url: "\(url)"
                \(options)

            """)
        let result = try runCommand(["check-config", "--config", config], in: directory)
        #expect(result.exit != .exited(0), "\(result)")
        #expect(result.stderr.contains("\(name).yaml:\(line)") && result.stderr.contains(mentioning), "\(result)")
        if ["leading-zero", "half-number", "hex", "huge", "nan"].contains(name) {
            #expect(result.stderr.contains("quote it"), "a number JSON can't carry: the error says to quote it: \(result)")
        }
    }

    @Test("a contact's email can't add members to the JSON body: text and mapping templates send it as data")
    func templateInjection() async throws {
        let bench = try TestBench("http-inject")
        defer { bench.tearDown() }
        let recorder = try await bench.recorder()
        let stack = try await bench.stack(config: TestBench.spoolConfig(jsonl: false, handlers: """
                  - type: http
                    name: text
                    url: "${CRM_URL}/text"
                    body: '{"email": "{{contact.email}}", "name": {{field:First Name}}, "admin": false}'
                  - type: http
                    name: mapping
                    url: "${CRM_URL}/mapping"
                    body:
                      email: "{{contact.email}}"
                      name: "{{field:First Name}}"
                      admin: false

                """), environment: ["CRM_URL": recorder.url])
        let email = #"x","admin":true,"x":"@example.com"#
        let name = #"Ann", "admin": true, "y": ""#
        try await stack.postAccepted(contactForm("tx-inject", email: email, firstName: name))
        try await stack.cli.waitUntilSettled(delivered: 2)
        for path in ["/text", "/mapping"] {
            let request = try #require(try recorder.requests(path: path).first, "\(path) got the event")
            let body = try request.json()
            #expect(body["email"] as? String == email, "\(path): \(request.body)")
            #expect(body["name"] as? String == name, "\(path): \(request.body)")
            #expect(body["admin"] as? Bool == false, "\(path): \(request.body)")
            #expect(Set(body.keys) == ["email", "name", "admin"], "\(path): \(request.body)")
        }
    }
}
