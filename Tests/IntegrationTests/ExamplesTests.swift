import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// deploy/examples/hubspot.yaml, brevo.yaml and mailchimp.yaml, unchanged but for the spool
/// path: their URL (${HUBSPOT_URL}, ${BREVO_URL}, ${MAILCHIMP_URL}) points at the recorder; they require the
/// listener's token (${LISTENER_TOKEN}), pass `check-config` and deliver the body shape
/// the CRM's API expects.
@Suite("deploy/examples: CRM mappings")
struct ExamplesTests {
    /// Copies `deploy/examples/NAME` into `directory`, with its `spool:` line pointing into
    /// the test folder (and a short retry schedule); returns the copy's path.
    static func copyExample(_ name: String, to directory: TestDirectory) throws -> String {
        let original = readText(SpoolPaths.example(name))
        try #require(!original.isEmpty, "deploy/examples/\(name) is missing")
        var replaced = 0
        let lines = original.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard line.hasPrefix("spool:") else { return String(line) }
            replaced += 1
            return "spool: { path: \(directory.file("spool.db")), retry: [1s, 1s], jitter: 0 }"
        }
        try #require(replaced == 1, "deploy/examples/\(name) has no top-level `spool:` line to point at the test folder")
        return try directory.write(name, lines.joined(separator: "\n"))
    }

    /// Runs the example behind nginx (TCP: the example sets no socket group), POSTs one
    /// contact and returns what the recorder received.
    static func deliver(example: String, environment crmEnvironment: [String: String], body: String, in directory: TestDirectory, recorder: Recorder) async throws -> RecordedRequest {
        let configPath = try copyExample(example, to: directory)
        // The example is closed to the internet: it takes the listener's own token from the
        // environment, and fails to start without it.
        let missing = try runCommand(["check-config", "--config", configPath], in: directory, environment: crmEnvironment)
        #expect(missing.exit == .exited(78) && missing.stderr.contains("verify.token: environment variable LISTENER_TOKEN is not set"),
                "\(example) must refuse to start without LISTENER_TOKEN: \(missing)")
        let token = randomHex(16)
        var environment = crmEnvironment
        environment["LISTENER_TOKEN"] = token
        let check = try runCommand(["check-config", "--config", configPath], in: directory, environment: environment)
        #expect(check.exit == .exited(0), "check-config failed for \(example): \(check)")
        #expect(check.stdout.contains("token: 1 accepted"), "\(example) has no verify.token: \(check.stdout.prefix(2000))")
        // Options are shown as written: `${VAR}` stays unexpanded, so a secret kept in the
        // environment (a key in a URL, say) is never printed.
        #expect(check.stdout.contains("url: ${"), "check-config should print the URL as written: \(check.stdout.prefix(2000))")
        #expect(!check.stdout.contains(recorder.url), "check-config printed the expanded URL: \(check.stdout.prefix(2000))")
        for (name, value) in environment where name.hasSuffix("_TOKEN") || name.hasSuffix("_KEY") {
            #expect(!check.stdout.contains(value), "check-config printed the secret ${\(name)}: \(check.stdout)")
        }

        let listener = try await SpoolServer.start(
            in: directory, configPath: configPath, tcp: true, environment: environment)
        defer { listener.stop() }
        let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint)
        defer { nginx.stop() }
        let client = try CurlClient(port: nginx.port, directory: directory)
        let refused = try await client.send(.form(body))
        #expect(refused.status == 401, "without the token: \(refused)")
        let response = try await client.send(.form(body, query: "token=\(token)"))
        #expect(response.status == 200, "\(response)\n\(listener.process.diagnostics())")
        let cli = SpoolCLI(directory: directory, configPath: configPath, environment: environment)
        let status = try await cli.waitUntilSettled(delivered: 1)
        #expect(status.values.allSatisfy { $0["dead"] == 0 }, "\(status)")
        let requests = try recorder.requests()
        #expect(requests.count == 1, "\(requests)")
        return try #require(requests.first)
    }

    static let contact = formBody([
        ("transactionid", "tx-example-1"), ("contact[id]", "1001"), ("contact[email]", "ann.lee@example.com"),
        ("contact[phone]", "+4755501234"), ("fields[0][id]", "1"), ("fields[0][name]", "First Name"), ("fields[0][value]", "Ann"),
        ("lead-status[score]", "42"), ("lead-status[label]", "Warm"),
    ])

    @Test("hubspot.yaml: batch upsert keyed on email, Bearer token from ${HUBSPOT_TOKEN}, missing last name null")
    func hubspot() async throws {
        let directory = try TestDirectory("ex-hubspot")
        defer { directory.remove() }
        let recorder = try await Recorder.start(in: directory)
        defer { recorder.stop() }
        let environment = ["HUBSPOT_URL": "\(recorder.url)/hubspot", "HUBSPOT_TOKEN": "pat-na1-test-token"]
        let request = try await Self.deliver(example: "hubspot.yaml", environment: environment, body: Self.contact, in: directory, recorder: recorder)
        #expect(request.method == "POST")
        #expect(request.path == "/hubspot/crm/v3/objects/contacts/batch/upsert")
        #expect(request.header("Authorization") == "Bearer pat-na1-test-token")
        #expect(request.header("Content-Type") == "application/json")
        let expected = """
            {"inputs":[{"idProperty":"email","id":"ann.lee@example.com","properties":{
              "email":"ann.lee@example.com","phone":"+4755501234","firstname":"Ann","lastname":null,
              "lifecyclestage":"lead","hs_lead_status":"Warm"}}]}
            """
        let body = try request.json()
        #expect(canonicalJSON(body) == (try canonicalJSON(text: expected)), "hubspot body: \(request.body)")
        #expect(request.body.contains(#""lastname":null"#), "\(request.body)")
    }

    @Test("brevo.yaml: create-or-update with attributes, api-key header from ${BREVO_API_KEY}")
    func brevo() async throws {
        let directory = try TestDirectory("ex-brevo")
        defer { directory.remove() }
        let recorder = try await Recorder.start(in: directory, plan: #"{"steps":[{"status":201,"body":"{\"id\":21}"}]}"#)
        defer { recorder.stop() }
        let environment = ["BREVO_URL": "\(recorder.url)/brevo", "BREVO_API_KEY": "xkeysib-test-key"]
        let request = try await Self.deliver(example: "brevo.yaml", environment: environment, body: Self.contact, in: directory, recorder: recorder)
        #expect(request.method == "POST")
        #expect(request.path == "/brevo/v3/contacts")
        #expect(request.header("api-key") == "xkeysib-test-key")
        #expect(request.header("accept") == "application/json")
        #expect(request.header("Content-Type") == "application/json")
        let expected = """
            {"email":"ann.lee@example.com","updateEnabled":true,
             "attributes":{"FIRSTNAME":"Ann","LASTNAME":null,"SMS":"+4755501234","LEAD_SCORE":"42"}}
            """
        let body = try request.json()
        #expect(canonicalJSON(body) == (try canonicalJSON(text: expected)), "brevo body: \(request.body)")
        #expect(request.body.contains(#""updateEnabled":true"#), "a YAML boolean must stay a JSON boolean: \(request.body)")
    }

    @Test("mailchimp.yaml: PUT to the member keyed by the MD5 of the lowercase email, Basic auth from ${MAILCHIMP_BASIC}")
    func mailchimp() async throws {
        let directory = try TestDirectory("ex-mailchimp")
        defer { directory.remove() }
        let recorder = try await Recorder.start(in: directory)
        defer { recorder.stop() }
        let environment = ["MAILCHIMP_URL": "\(recorder.url)/mailchimp", "MAILCHIMP_LIST": "list1", "MAILCHIMP_BASIC": "YW55OnRlc3Qta2V5LXVzMjE="]
        // Sent with capitals and a trailing space: the member id is of the trimmed, lowercase email.
        let body = Self.contact.replacingOccurrences(of: "ann.lee%40example.com", with: "Ann.Lee%40Example.com+")
        try #require(body != Self.contact, "the contact's email is not where the test expects it: \(Self.contact)")
        let request = try await Self.deliver(example: "mailchimp.yaml", environment: environment, body: body, in: directory, recorder: recorder)
        #expect(request.method == "PUT")
        // `printf ann.lee@example.com | md5sum`
        #expect(request.path == "/mailchimp/3.0/lists/list1/members/ac22d1dff811ced3068af057a3ed7029", "\(request.path)")
        #expect(request.header("Authorization") == "Basic YW55OnRlc3Qta2V5LXVzMjE=")
        let expected = """
            {"email_address":"Ann.Lee@Example.com","status_if_new":"pending",
             "merge_fields":{"FNAME":"Ann","LNAME":null,"PHONE":"+4755501234"}}
            """
        #expect(canonicalJSON(try request.json()) == (try canonicalJSON(text: expected)), "mailchimp body: \(request.body)")
    }
}
