import Foundation
import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerSQL
@testable import ContactListenerHTTP

/// `BodyTemplate`: every placeholder is encoded for the body's content type, so a hostile
/// value stays data (the parsed body holds it exactly) and never becomes structure; YAML
/// numbers follow RFC 8259 §6 or are refused at load time.
@Suite("http handler: body templates")
struct BodyTemplateTests {
    /// Values a contact can send: JSON and form syntax, control characters, line separators.
    static let hostileValues: [String] = [
        "ann@example.com",
        #"x","admin":true,"x":""#,
        #"a"b\c\"d\\"#,
        "line1\nline2\r\ttab\u{0}nul\u{1}\u{1F}\u{7F}",
        "</script><script>alert(1)</script>",
        "sep\u{2028}para\u{2029}end",
        "{{contact.email}} }} {{ ] } [ {",
        "a&admin=1&b=%41+c",
        "emoji 😀 ü é",
        "",
    ]

    /// A text or mapping template (YAML), its content type, and the JSON value the rendered
    /// body must hold for `value` (`nil`: the member is JSON null).
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var contentType: String
        var body: String
        var expected: @Sendable (String) -> Any
        var testDescription: String { name }
    }

    static let jsonCases: [Case] = [
        Case(name: "text, placeholder inside a string", contentType: "application/json",
             body: #"'{"email": "{{contact.email}}", "admin": false}'"#,
             expected: { ["email": $0, "admin": false] }),
        Case(name: "text, placeholder with text around it inside a string", contentType: "application/json; charset=utf-8",
             body: #"'{"greeting": "Hi {{contact.email}}, \"{{contact.email}}\"!", "admin": false}'"#,
             expected: { ["greeting": "Hi \($0), \"\($0)\"!", "admin": false] }),
        Case(name: "text, placeholder as a value", contentType: "application/vnd.api+json",
             body: #"'{"email": {{contact.email}}, "list": [{{contact.email}}, "{{contact.email}}"], "missing": {{contact.phone}}}'"#,
             expected: { ["email": $0, "list": [$0, $0], "missing": NSNull()] }),
        Case(name: "text, placeholder in a key", contentType: "Application/JSON",
             body: #"'{"k-{{contact.email}}": 1}'"#,
             expected: { ["k-\($0)": 1] }),
        Case(name: "mapping", contentType: "application/json",
             body: "\n  email: \"{{contact.email}}\"\n  note: \"<{{contact.email}}>\"\n  admin: false",
             expected: { ["email": $0, "note": "<\($0)>", "admin": false] }),
    ]

    static func delivery(email: String) -> Delivery {
        var event = ContactEvent(metadata: EventMetadata(
            receivedAt: "2024-03-07T08:09:10.123Z", remoteAddress: "203.0.113.5", requestID: "req-1", method: "POST", mode: .structured))
        event.transactionID = "tx-1"
        event.contact.email = email
        return Delivery(event: event)
    }

    /// The `body:` node of a one-handler configuration (`yaml`'s own lines are indented
    /// under `body:`, so its first line after a newline is line 5).
    static func bodyNode(_ yaml: String) throws -> ConfigNode {
        let indented = yaml.replacingOccurrences(of: "\n", with: "\n    ")
        let text = "handlers:\n  - type: http\n    url: http://127.0.0.1:9/x\n    body: \(indented)\n"
        let configuration = try ListenerConfiguration.parse(text, file: "test.yaml", baseDirectory: "/tmp", environment: [:])
        return try #require(configuration.handlers.first?.options["body"])
    }

    @Test("JSON bodies: a hostile value parses back as the same string", arguments: jsonCases, hostileValues)
    func jsonValueStaysData(_ testCase: Case, value: String) throws {
        let template = try BodyTemplate.compile(try Self.bodyNode(testCase.body), contentType: testCase.contentType)
        let body = template.render(Self.delivery(email: value))
        let parsed = try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
        #expect(canonical(parsed) == canonical(testCase.expected(value)), "\(testCase.name)\nbody: \(String(decoding: body, as: UTF8.self))")
    }

    @Test("form bodies: a hostile value is percent-encoded and decodes back", arguments: hostileValues)
    func formValueStaysData(value: String) throws {
        let template = try BodyTemplate.compile(try Self.bodyNode(#""email={{contact.email}}&admin=0""#),
                                                contentType: "application/x-www-form-urlencoded")
        let body = String(decoding: template.render(Self.delivery(email: value)), as: UTF8.self)
        let pairs = body.split(separator: "&", omittingEmptySubsequences: false).map { $0.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false) }
        #expect(pairs.map { String($0[0]) } == ["email", "admin"], "\(body)")
        #expect(pairs.first?.last.flatMap { String($0).removingPercentEncoding } == value, "\(body)")
    }

    /// Text templates that can't be filled in safely, and a fragment of the error.
    static let refusedTemplates: [(contentType: String, body: String, mentioning: String)] = [
        ("text/plain", #""Hello {{contact.email}}""#, "content type"),
        ("application/xml", #""<email>{{contact.email}}</email>""#, "content type"),
        ("application/json", #"'{"email": {{contact.email}}'"#, "not valid JSON"),
        ("application/json", #"'{"email": "\{{contact.email}}"}'"#, "escape"),
        ("application/json", #"'{"email": "\u00{{contact.email}}"}'"#, "escape"),
        ("application/json", #"'{ {{contact.email}}: 1 }'"#, "not valid JSON"),
        ("application/json", #"'[{{contact.email}}{{contact.id}}]'"#, "not valid JSON"),
        ("application/x-www-form-urlencoded", "\n  email: \"{{contact.email}}\"", "JSON"),
    ]

    @Test("a text template is refused at load time when its placeholders can't be encoded", arguments: refusedTemplates)
    func refusedTemplate(_ example: (contentType: String, body: String, mentioning: String)) throws {
        #expect {
            _ = try BodyTemplate.compile(try Self.bodyNode(example.body), contentType: example.contentType)
        } throws: { error in
            let text = "\(error)"
            return text.contains("handlers[0].body") && text.contains(example.mentioning)
        }
    }

    @Test("a text template without placeholders is sent as written, whatever the content type")
    func staticText() throws {
        let template = try BodyTemplate.compile(try Self.bodyNode(#""ping <x/>""#), contentType: "application/xml")
        #expect(template.render(Self.delivery(email: "a@b.c")) == Array("ping <x/>".utf8))
    }

    /// YAML plain scalars that JSON writes as numbers, as written.
    static let validNumbers = ["0", "-0", "42", "-17", "1.5", "-0.25", "1e10", "1E+2", "2.5e-3", "9007199254740991", "-9007199254740991"]

    @Test("a plain scalar in JSON's number grammar is written as that number", arguments: validNumbers)
    func validNumber(_ text: String) throws {
        let template = try BodyTemplate.compile(try Self.bodyNode("\n  n: \(text)"), contentType: "application/json")
        let body = String(decoding: template.render(Self.delivery(email: "a@b.c")), as: UTF8.self)
        #expect(body == #"{"n":\#(text)}"#)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        #expect(parsed["n"] is NSNumber, "\(body)")
    }

    /// Plain scalars that look like numbers but aren't JSON numbers (or are out of the range
    /// a JSON parser reads exactly): refused, with a hint to quote them.
    static let invalidNumbers = ["01234", ".5", "1.", "+1", "0x10", "1e400", "-1e400", "nan", "NaN", "inf", "-Infinity", ".inf", "-.inf",
                                 ".NaN", "0o17", "0b101", "12345678901234567890", "1_000"]

    @Test("a plain scalar that looks numeric but isn't a JSON number is refused with FILE:LINE: KEY and 'quote it'",
          arguments: invalidNumbers)
    func invalidNumber(_ text: String) throws {
        #expect {
            _ = try BodyTemplate.compile(try Self.bodyNode("\n  list: [1, {n: \(text)}]"), contentType: "application/json")
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("test.yaml:5: handlers[0].body.list[1].n: ") && text.contains("quote")
        }
    }

    @Test("a quoted number stays a string")
    func quotedNumber() throws {
        let template = try BodyTemplate.compile(try Self.bodyNode("\n  zip: \"01234\"\n  n: '1e400'"), contentType: "application/json")
        #expect(template.render(Self.delivery(email: "a@b.c")) == Array(#"{"zip":"01234","n":"1e400"}"#.utf8))
    }
}

/// JSON text with sorted keys: equal values give equal text.
private func canonical(_ value: Any) -> String {
    guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]) else { return "(not JSON: \(value))" }
    return String(decoding: data, as: UTF8.self)
}

/// `{{SECTION.KEY}}` reaches every section of the event through the section table: the
/// last record's value, `-` or `_` in the section's name; unknown ones are refused.
@Suite("http handler: placeholders")
struct PlaceholderTests {
    static let delivery: Delivery = {
        var event = ContactEvent(metadata: EventMetadata(
            receivedAt: "2024-03-07T08:09:10.123Z", remoteAddress: nil, requestID: "req-1", method: "POST", mode: .structured))
        event.contact.email = "ann@example.com"
        var first = CampaignOpened(), second = CampaignOpened()
        first.name = "Spring"
        second.name = "Summer"
        event.campaignsOpened = [first, second]
        var status = LeadStatus()
        status.label = "Warm"
        event.leadStatus = [status]
        var link = LinkClicked()
        link.clicks = "3"
        event.linksClicked = [link]
        return Delivery(event: event)
    }()

    @Test(arguments: [
        ("contact.email", "ann@example.com" as String?),
        ("contact.phone", nil),
        ("campaigns_opened.name", "Summer"),
        ("campaigns-opened.name", "Summer"),
        ("lead_status.label", "Warm"),
        ("links_clicked.clicks", "3"),
        ("goals_reached.name", nil),
    ])
    func sectionPlaceholders(text: String, expected: String?) throws {
        let placeholder = try #require(Placeholder(text))
        #expect(placeholder.value(in: Self.delivery) == expected)
    }

    @Test(arguments: ["campaigns_opened.colour", "nothing.name", "contact", "lead_status."])
    func unknownPlaceholders(text: String) {
        #expect(Placeholder(text) == nil)
    }
}
