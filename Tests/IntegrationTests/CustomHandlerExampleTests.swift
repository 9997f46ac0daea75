import Foundation
import Testing

/// The plugin API: Examples/CustomHandler builds its own binary with a `csv`
/// handler type; `make test` builds it into the same scratch folder, beside contact-listener.
@Suite("Plugin API: Examples/CustomHandler")
struct CustomHandlerExampleTests {
    static func binary() throws -> String {
        let listener = try ListenerBinary.path()
        let candidate = URL(fileURLWithPath: listener).deletingLastPathComponent().appendingPathComponent("my-contact-listener").path
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw TestFailure("no my-contact-listener at \(candidate): build it with `swift build --package-path Examples/CustomHandler --scratch-path .build` (make test does)")
        }
        return candidate
    }

    @Test("the custom type is listed and stores a CGI request's contact as a CSV row")
    func customHandlerStoresRows() throws {
        let binary = try Self.binary()
        let directory = try TestDirectory("custom-handler")
        defer { directory.remove() }
        let config = try directory.write("contact-listener.yaml", """
            handlers:
              - type: csv
                path: contacts.csv
                columns: ["First Name", "City"]
              - type: jsonl
                path: events.jsonl
            """)

        let listing = try ChildProcess(
            name: "handlers", executable: binary, arguments: ["handlers"], environment: childEnvironment(),
            directory: directory.path, stdin: .null, stdoutPath: directory.file("handlers.out"), stderrPath: directory.file("handlers.err"))
        #expect(listing.waitForExit(timeout: 30) == .exited(0))
        #expect(listing.stdout.contains("csv: append one CSV row per event"))
        #expect(listing.stdout.contains("sqlite:"), "the built-in types stay available")

        let body = Array("transactionid=tx-csv-1&contact[email]=ann%40example.com&contact[phone]=%2B47+1&fields[0][name]=First+Name&fields[0][value]=Ann%2C+Jr.&fields[1][name]=City&fields[1][value]=Oslo".utf8)
        let input = try directory.write("body", Data(body))
        var environment = [
            "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": String(body.count), "REMOTE_ADDR": "127.0.0.1", "CONTACT_LISTENER_CONFIG": config,
        ]
        environment["QUERY_STRING"] = ""
        let cgi = try ChildProcess(
            name: "cgi", executable: binary, arguments: [], environment: childEnvironment(environment),
            directory: directory.path, stdin: .file(input), stdoutPath: directory.file("cgi.out"), stderrPath: directory.file("cgi.err"))
        #expect(cgi.waitForExit(timeout: 30) == .exited(0))
        #expect(cgi.stdout.hasPrefix("Status: 200"), "\(cgi.stdout) \(cgi.stderr)")
        #expect(cgi.stdout.contains(#""transactionid":"tx-csv-1""#))
        #expect(readText(directory.file("contacts.csv")) == "tx-csv-1,ann@example.com,+47 1,\"Ann, Jr.\",Oslo\n")
        #expect(readText(directory.file("events.jsonl")).contains(#""transactionid":"tx-csv-1""#))
    }

    @Test("a bad option of the custom type fails check-config with file, line and key")
    func customHandlerConfigErrors() throws {
        let binary = try Self.binary()
        let directory = try TestDirectory("custom-handler-config")
        defer { directory.remove() }
        let config = try directory.write("contact-listener.yaml", "handlers:\n  - type: csv\n    colums: [x]\n")
        let check = try ChildProcess(
            name: "check", executable: binary, arguments: ["check-config", "--config", config], environment: childEnvironment(),
            directory: directory.path, stdin: .null, stdoutPath: directory.file("out"), stderrPath: directory.file("err"))
        #expect(check.waitForExit(timeout: 30) == .exited(78))
        #expect(check.stderr.contains("contact-listener.yaml:3: handlers[0].colums: unknown key"), "\(check.stderr)")
    }
}
