import Logging
import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime

/// swift-log's contract for `logLevel`: setting it on one handler changes that handler only;
/// the configured level (`LogLevelSetting`, moved by a reload) reaches every handler that
/// has none of its own.
@Suite("log handler: the level per instance, the configured one for the rest")
struct LineLogHandlerTests {
    @Test func ownLevelStaysWithItsHandler() {
        let setting = LogLevelSetting(.info)
        var first = LineLogHandler(following: setting, fd: -1)
        let second = LineLogHandler(following: setting, fd: -1)
        #expect(first.logLevel == .info && second.logLevel == .info)
        first.logLevel = .critical
        #expect(first.logLevel == .critical)
        #expect(second.logLevel == .info, "setting one handler's level changed another's")
        setting.level = .debug  // a reload
        #expect(second.logLevel == .debug, "a handler without a level of its own follows the configured one")
        #expect(first.logLevel == .critical, "a handler's own level outlasts a reload")
    }
}
