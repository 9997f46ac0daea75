import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerSQL
@testable import ContactListenerHTTP

/// `RedactedURL`: what an error may show of a URL, and what it hides.
@Suite("Redacted URLs")
struct RedactedURLTests {
    static let cases: [(text: String, shown: String, hidden: [String])] = [
        ("https://api.example.com/v1/contacts", "https://api.example.com/v1/contacts", []),
        ("https://user:pa%40ss@api.example.com:8443/v1/contacts?key=SECRET&x=1#frag=F",
         "https://api.example.com:8443/v1/contacts", ["user", "pa%40ss", "SECRET", "1", "F"]),
        ("http://root:p@ss@127.0.0.1:9/x", "http://127.0.0.1:9/x", ["root", "p@ss"]),
        ("http://token@[::1]:8080/p;v=1?k=v", "http://[::1]:8080/p;v=1", ["token", "v"]),
        ("https://api.example.com?key=SECRET", "https://api.example.com", ["SECRET"]),
        ("https://host/users/@me?email=a@b.c", "https://host/users/@me", ["a@b.c"]),
        ("/r302/?key=SECRET", "/r302/", ["SECRET"]),
        ("//cdn.example.com/x?sig=S", "//cdn.example.com/x", ["S"]),
        ("/a//b?c", "/a//b", ["c"]),
        ("", "", []),
    ]

    @Test("scheme://host[:port]/path is shown; userinfo, query and fragment are hidden", arguments: cases)
    func redaction(_ example: (text: String, shown: String, hidden: [String])) {
        let url = RedactedURL(example.text)
        #expect(url.description == example.shown)
        #expect(url.hidden == example.hidden)
    }
}
