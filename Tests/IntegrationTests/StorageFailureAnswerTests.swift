import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Without a spool a failing handler means 503 for the caller, and the caller is anyone on
/// the internet: the answer says the event was not stored and nothing of why (a handler's
/// error can carry a CRM's URL with its key, or a script's output). The log has the reason.
@Suite("storage failure: the 503 tells the caller nothing of the handler")
struct StorageFailureAnswerTests {
    @Test("a failing script and a failing CRM: 503 without their details; the log names the handler")
    func answerCarriesNoDetails() async throws {
        let bench = try TestBench("fail-503")
        defer { bench.tearDown() }
        let directory = bench.directory
        let recorder = try await bench.recorder(plan: #"{"steps":[{"status":500,"body":"db down: internal-host-7"}]}"#)
        let script = try directory.write("fail.sh", "#!/bin/sh\necho 'password=hunter2 at /srv/private/path' >&2\nexit 4\n")
        chmod(script, 0o755)
        let secret = randomToken("crmkey")
        for (name, handler) in [
            ("exec", "  - type: exec\n    command: [./fail.sh]\n"),
            ("http", "  - type: http\n    url: \"\(recorder.url)/contacts?key=\(secret)\"\n    timeout: 5s\n"),
        ] {
            let stack = try await bench.stack(config: "handlers:\n" + handler)
            let response = try await stack.post(contactForm("tx-fail-\(name)"))
            stack.stop()
            expectRejected(response, status: 503, mentioning: "could not be stored", "\(name) handler failing")
            for detail in ["hunter2", "/srv/private", "fail.sh", "exited", secret, "internal-host-7", "127.0.0.1", "500", name] {
                #expect(!response.body.contains(detail), "the 503 carries '\(detail)': \(response.body)")
            }
            #expect(stack.listener.log.contains("handler '\(name)'"), "the log should name the handler: \(stack.listener.log.suffix(1500))")
        }
    }
}
