import Foundation
import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerHTTP

/// `URLTemplate`: a contact's value in an `http` handler's URL stays inside its segment, and
/// can never choose the host; the `{{lowercase:…}}`, `{{trim:…}}`, `{{md5:…}}` prefixes.
@Suite("URL templates")
struct URLTemplateTests {
    /// The `url:` node of a one-handler configuration.
    static func urlNode(_ url: String) throws -> ConfigNode {
        let text = "handlers:\n  - type: http\n    url: \"\(url)\"\n"
        let configuration = try ListenerConfiguration.parse(text, file: "test.yaml", baseDirectory: "/tmp", environment: [:])
        return try #require(configuration.handlers.first?.options["url"])
    }

    static let members = "https://crm.example/3.0/lists/L/members/"

    /// (template, the contact's email, the URL, or nil: the delivery fails for good).
    static let renderings: [(String, String?, String?)] = [
        ("{{contact.email}}", "ann@example.com", "ann%40example.com"),
        // `printf ann.lee@example.com | md5sum`
        ("{{md5:lowercase:trim:contact.email}}", " Ann.Lee@Example.COM\t", "ac22d1dff811ced3068af057a3ed7029"),
        ("{{lowercase:contact.email}}", "ÅSE@example.com", "%C3%A5se%40example.com"),
        ("{{contact.email}}", "../../admin?x=1#y", "..%2F..%2Fadmin%3Fx%3D1%23y"),
        ("{{contact.email}}", "a/b%2F@evil.example:80", "a%2Fb%252F%40evil.example%3A80"),
        ("{{contact.email}}", "sp ace+plus", "sp%20ace%2Bplus"),
        ("{{contact.email}}?email={{contact.email}}", "a&b=c", "a%26b%3Dc?email=a%26b%3Dc"),
        ("{{contact.email}}", "..", nil),
        ("{{contact.email}}", ".", nil),
        ("{{contact.email}}", "", nil),
        ("{{contact.email}}", nil, nil),
        ("{{trim:contact.email}}", "   ", nil),
        // Blank as sent: no member id from the MD5 of "".
        ("{{md5:lowercase:trim:contact.email}}", " \t ", nil),
        // Dot segments made of two values, or of a value and the template's text.
        ("{{contact.email}}{{contact.email}}", ".", nil),
        ("{{contact.email}}.", ".", nil),
        ("x/{{contact.email}}/y", "..", nil),
        ("{{contact.email}}?q=..", "ok", "ok?q=.."),
    ]

    @Test("rendering: values percent-encoded into their segment, or the delivery refused", arguments: renderings)
    func rendering(template: String, email: String?, expected: String?) throws {
        let url = Self.members + template
        let compiled = try #require(try URLTemplate.compile(url, at: Self.urlNode(url)))
        var event = ContactEvent(metadata: EventMetadata(receivedAt: "", remoteAddress: nil, requestID: "r", method: "POST", mode: .structured))
        event.contact.email = email
        switch compiled.render(Delivery(event: event)) {
        case .success(let rendered):
            #expect(rendered == expected.map { Self.members + $0 }, "\(template) with \(String(describing: email))")
        case .failure(let error):
            #expect(expected == nil, "\(template) with \(String(describing: email)): \(error)")
        }
    }

    @Test("placeholders before the path are refused; a URL without one is no template", arguments: [
        ("https://{{contact.email}}/x", false),
        ("https://crm.example{{contact.email}}/x", false),
        ("https://user:{{contact.email}}@crm.example/x", false),
        ("https://crm.example?q={{contact.email}}", false),
        ("https://crm.example/{{contact.email}}", true),
        ("https://crm.example/x?email={{contact.email}}", true),
    ])
    func placementChecked(url: String, accepted: Bool) throws {
        let node = try Self.urlNode(url)
        if accepted {
            #expect(try URLTemplate.compile(url, at: node) != nil, "\(url)")
        } else {
            #expect(throws: ConfigurationError.self, "\(url)") { _ = try URLTemplate.compile(url, at: node) }
        }
        #expect(try URLTemplate.compile("https://crm.example/x", at: node) == nil)
    }

    @Test("waits a backend asks for: Retry-After, rate-limit reset headers, capped at an hour", arguments: [
        ("retry-after", "2", 2_000 as Int64?),
        ("retry-after", "9999999", 3_600_000),
        ("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT", nil),
        ("reset", "30", 30_000),
        ("reset", "1700000060", 60_000),   // a Unix time, 60 s after `now` below
        ("reset", "1690000000", 0),        // a Unix time already past
        ("reset", "-5", nil),
        ("reset", "1700000060000", 60_000), // a Unix time in milliseconds
    ])
    func waits(kind: String, value: String, expected: Int64?) {
        let wait = kind == "retry-after"
            ? HTTPForwardHandler.retryAfter(value)
            : HTTPForwardHandler.rateLimitReset(value, now: 1_700_000_000_000)
        #expect(wait == expected, "\(kind): \(value)")
    }
}
