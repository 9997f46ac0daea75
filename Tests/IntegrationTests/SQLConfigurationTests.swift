import Foundation
import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerSQL

/// The `postgres` and `mysql` handlers' configuration: URLs, typed errors naming the key
/// (never the password), and a server that is down at start.
@Suite("SQL handler configuration")
struct SQLConfigurationTests {
    /// A URL and what it must parse to.
    struct URLCase: Sendable, CustomTestStringConvertible {
        var text: String
        var schemes: [String]
        var user: String
        var password: String?
        var host: String
        var port: Int
        var database: String
        var socket: String?
        var testDescription: String { text }
    }

    static let urls: [URLCase] = [
        URLCase(text: "postgres://app:s3cret@db.example.com:6432/contacts", schemes: ["postgres"],
                user: "app", password: "s3cret", host: "db.example.com", port: 6432, database: "contacts"),
        URLCase(text: "postgresql://app@[::1]/crm", schemes: ["postgres", "postgresql"],
                user: "app", password: nil, host: "::1", port: 5432, database: "crm"),
        URLCase(text: "postgres://us%3Aer:p%40ss%2Fw%C3%B8rd@127.0.0.1/d%20b", schemes: ["postgres"],
                user: "us:er", password: "p@ss/wørd", host: "127.0.0.1", port: 5432, database: "d b"),
        URLCase(text: "mysql://root:p@ss@localhost/contacts?socket=/run/mysqld/mysqld.sock", schemes: ["mysql"],
                user: "root", password: "p@ss", host: "localhost", port: 5432, database: "contacts", socket: "/run/mysqld/mysqld.sock"),
    ]

    @Test("database URLs", arguments: urls)
    func parse(_ testCase: URLCase) throws {
        let url = try DatabaseURL(testCase.text, schemes: testCase.schemes, defaultPort: 5432)
        #expect(url.user == testCase.user)
        #expect(url.password == testCase.password)
        #expect(url.host == testCase.host)
        #expect(url.port == testCase.port)
        #expect(url.database == testCase.database)
        #expect(url.socket == testCase.socket)
        #expect(!url.redacted.contains(testCase.password ?? "\u{0}"), "\(url.redacted)")
    }

    /// A handler entry and a fragment its error must contain.
    static let badConfigurations: [(yaml: String, mentioning: String)] = [
        ("type: postgres", "needs 'url'"),
        ("type: mysql\n    url: http://u:topsecret@h/db", "scheme"),
        ("type: postgres\n    url: postgres://h/db", "no user"),
        ("type: postgres\n    url: postgres://u:topsecret@h:99999/db", "port"),
        ("type: mysql\n    url: mysql://u:topsecret@h", "no database"),
        ("type: mysql\n    url: mysql://u:topsecret@h/db?sslmode=require", "sslmode"),
        ("type: postgres\n    url: postgres://u@h/db\n    timeout: forever", "timeout"),
        ("type: postgres\n    url: postgres://u@h/db\n    tls: maybe", "tls"),
        ("type: mysql\n    url: mysql://u@h/db\n    path: x.db", "unknown key"),
        ("type: postgres\n    url: postgres://${NO_SUCH_VARIABLE_SQL}@h/db", "NO_SUCH_VARIABLE_SQL"),
    ]

    @Test("a bad handler entry fails with an error naming its key, never the password")
    func badConfiguration() throws {
        for (entry, mentioning) in Self.badConfigurations {
            let configuration = try ListenerConfiguration.parse(
                "handlers:\n  - \(entry)\n", file: "listener.yaml", baseDirectory: "/tmp", environment: [:])
            do {
                let handlers = try HandlerRegistry().makeHandlers(configuration.handlers)
                handlers.forEach { $0.close() }
                Issue.record("accepted: \(entry)")
            } catch {
                #expect("\(error)".contains(mentioning), "\(entry): \(error)")
                #expect("\(error)".contains("listener.yaml"), "\(entry): \(error)")
                #expect(!"\(error)".contains("topsecret"), "the password leaked: \(error)")
            }
        }
    }

    @Test("a server that is down at start: the handler is made, and each delivery fails promptly without the password")
    func serverDown() async throws {
        let port = try Network.freePort()
        let configuration = try ListenerConfiguration.parse("""
            handlers:
              - type: postgres
                url: postgres://app:topsecret@127.0.0.1:\(port)/contacts
                timeout: 3s
              - type: mysql
                url: mysql://app:topsecret@127.0.0.1:\(port)/contacts
                timeout: 3s
            """, file: "listener.yaml", baseDirectory: "/tmp", environment: [:])
        let handlers = try HandlerRegistry().makeHandlers(configuration.handlers)
        defer { handlers.forEach { $0.close() } }
        let delivery = try SQLEvents.delivery("transactionid=tx-down&contact%5Bid%5D=1", receivedAt: SQLEvents.olderAt)
        let failures = try await offload {
            handlers.map { handler -> (String, Double, String) in
                let started = Date()
                let results = handler.handle(batch: [delivery, delivery, delivery])
                let reasons = results.map { result -> String in
                    if case .failure(let error) = result { return "\(error)" }
                    return "stored"
                }
                return (handler.name, Date().timeIntervalSince(started), reasons.joined(separator: "\n"))
            }
        }
        for (name, seconds, reasons) in failures {
            #expect(seconds < 10, "\(name) took \(seconds) s for a batch of 3")
            #expect(!reasons.contains("stored"), "\(name): \(reasons)")
            #expect(reasons.contains("127.0.0.1:\(port)/contacts") && reasons.contains("can't connect"), "\(name): \(reasons)")
            #expect(!reasons.contains("topsecret"), "\(name) leaked the password: \(reasons)")
        }
    }
}
