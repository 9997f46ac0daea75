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

    @Test("with hundreds of sockets open, /proc/net/tcp spans many pages and every listener in it is found; nginx starts ready")
    func manySocketsStillFound() async throws {
        // 300 listening sockets put about 45 KB into /proc/net/tcp; a reader that stops
        // after the first page (4 KB) misses most of them, and any server's readiness.
        var held: [(fd: Int32, port: Int)] = []
        defer { for socket in held { close(socket.fd) } }
        for _ in 0..<300 { held.append(try Network.occupyPort()) }
        let table = readText("/proc/net/tcp")
        #expect(table.utf8.count > 300 * 100, "/proc/net/tcp read as \(table.utf8.count) bytes with 300 listeners open")
        let missed = held.filter { Network.listeningSocketInodes(port: $0.port).isEmpty }
        #expect(missed.isEmpty, "\(missed.count) of 300 listening ports not found in /proc/net/tcp, e.g. \(missed.prefix(5).map(\.port))")

        let directory = try TestDirectory("many-sockets")
        defer { directory.remove() }
        let nginx = try await Nginx.start(in: directory, upstream: .unix(directory.file("none.sock")))
        defer { nginx.stop() }
        #expect(Network.isListening(port: nginx.port, processTree: nginx.process.pid))
    }

    @Test("stop() ends the whole process tree: a killed nginx master leaves no worker behind")
    func stopEndsTheTree() async throws {
        let directory = try TestDirectory("tree-stop")
        defer { directory.remove() }
        let nginx = try await Nginx.start(in: directory, upstream: .unix(directory.file("none.sock")))
        let workers = ProcessTable().descendants(of: nginx.process.pid)
        #expect(!workers.isEmpty, "nginx has no worker process")
        // SIGKILL to the master alone would orphan its workers (as a failed start did).
        nginx.process.stop(signal: SIGKILL)
        let table = ProcessTable()
        let left = workers.filter { table.isLive($0) }
        #expect(left.isEmpty, "still running after stop(): \(left)")
    }
}
