import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerSQL
@testable import ContactListenerHTTP

/// The limits as the configuration sets them and the pipeline answers them.
@Suite("Limits: configuration and answers")
struct ConfigurationLimitsTests {
    @Test("limits.max_parts and limits.max_header_bytes are read from the config")
    func configuration() throws {
        let configuration = try ListenerConfiguration.parse(
            "limits: { max_parts: 50, max_header_bytes: 16k }\n", file: "t.yaml", baseDirectory: ".", environment: [:])
        #expect(configuration.limits.maxParts == 50)
        #expect(configuration.limits.maxHeaderBytes == 16 * 1024)
    }

    @Test("parameters over max_header_bytes are answered 431")
    func headersTooLargeIs431() {
        #expect(PipelineError.request(.headersTooLarge(size: 10_100, limit: 4096)).status == 431)
    }
}
