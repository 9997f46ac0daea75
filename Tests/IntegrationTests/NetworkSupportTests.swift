import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The readiness check every server start relies on: a port counts as ours only when our
/// process tree holds the listening socket. CI once ran two tests against one nginx: the
/// second nginx lost its free port to the first, and a plain connect said "ready".
@Suite("test support: whose port is it")
struct NetworkSupportTests {
    @Test("a port held by another process is not ours; the holder's own tree is; a closed one is nobody's")
    func isListeningChecksTheOwner() throws {
        let sleeper = try ChildProcess(
            name: "sleep", executable: try tool("sleep", package: "coreutils"), arguments: ["30"],
            environment: childEnvironment(), directory: "/", stdoutPath: "/dev/null", stderrPath: "/dev/null")
        defer { sleeper.stop(signal: SIGKILL) }
        let (fd, port) = try Network.occupyPort()
        let whileHeld = (
            sleeper: Network.isListening(port: port, processTree: sleeper.pid),
            us: Network.isListening(port: port, processTree: getpid()))
        close(fd)
        #expect(!whileHeld.sleeper, "a process without the socket")
        #expect(whileHeld.us, "this process holds it")
        #expect(!Network.isListening(port: port, processTree: getpid()), "closed: nobody listens")
    }
}
