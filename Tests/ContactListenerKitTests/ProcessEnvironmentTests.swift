import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerSQL
@testable import ContactListenerHTTP
@testable import ListenerSupport
#if canImport(Glibc)
import Glibc
#endif

/// `ProcessEnvironment.current` splits `environ` itself, on the first `=` byte (the
/// Character-based split was a quarter of a CGI request's environment work). It must agree
/// with getenv(3) on every entry.
@Suite("Process environment", .serialized)  // setenv while another test reads environ would race
struct ProcessEnvironmentTests {
    static let cases: [(name: String, value: String)] = [
        ("CL_ENV_TEST_PLAIN", "plain"),
        ("CL_ENV_TEST_EQUALS", "a=b==c"),
        ("CL_ENV_TEST_EMPTY", ""),
        ("CL_ENV_TEST_UTF8", "Zoë Åström ✓"),
        ("CL_ENV_TEST_QUERY", "email=ann%40example.com&first=Ann"),
    ]

    @Test(arguments: cases)
    func readsWhatSetenvWrote(_ example: (name: String, value: String)) {
        #expect(setenv(example.name, example.value, 1) == 0)
        defer { unsetenv(example.name) }
        #expect(ProcessEnvironment.current[example.name] == example.value)
    }

    @Test func agreesWithGetenvOnEveryEntry() {
        let environment = ProcessEnvironment.current
        #expect(!environment.isEmpty)
        for (name, value) in environment {
            #expect(getenv(name).map { String(cString: $0) } == value, "\(name)")
        }
    }
}
