import Foundation
import Testing

/// spawn-fcgi starts the listener with NO arguments and the listening socket on fd 0 (as
/// mod_fcgid does): the binary must detect FastCGI by itself and find its config through
/// CONTACT_LISTENER_CONFIG.
@Suite("spawn-fcgi → listener without arguments")
struct SpawnFCGITests {
    @Test("socket on fd 0 is detected, requests from nginx are stored", arguments: ["unix", "tcp"])
    func autodetectBehindNginx(transport: String) async throws {
        let directory = try TestDirectory("spawn-\(transport)")
        defer { directory.remove() }
        let listener = try await ListenerProcess.spawnFCGI(in: directory, tcp: transport == "tcp")
        defer { listener.process.stop() }
        #expect(listener.log.contains("inherited socket on fd 0"), "\(listener.log)")
        #expect(listener.log.contains("config=\(listener.configPath)"), "the config came from CONTACT_LISTENER_CONFIG: \(listener.log)")

        let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint)
        defer { nginx.stop() }
        let client = try CurlClient(port: nginx.port, directory: directory)

        let posted = try await client.send(.form(Fixtures.structuredBody))
        #expect(posted.status == 200, "\(posted)\n\(nginx.diagnostics())")
        let postedID = try posted.json()["request_id"] as? String
        let fetched = try await client.send(.get(Fixtures.shortcodeQuery))
        #expect(fetched.status == 200, "\(fetched)")
        let fetchedID = try fetched.json()["request_id"] as? String
        let refused = try await client.send(.form("transactionid=tx-spawn-bad&fields=abc"))
        #expect(refused.status == 400, "\(refused)")

        let lines = listener.storedLines
        try #require(lines.count == 2, "stored lines:\n\(lines.joined(separator: "\n"))")
        try expectStoredLine(lines[0], equals: Fixtures.structuredEvent, requestID: postedID, method: "POST",
                             mode: "structured", remoteAddress: "127.0.0.1")
        try expectStoredLine(lines[1], equals: Fixtures.shortcodeEvent, requestID: fetchedID, method: "GET",
                             mode: "shortcode", remoteAddress: "127.0.0.1")
        #expect(listener.requestLog.map(\.status) == [200, 200, 400], "\(listener.log)")

        // spawn-fcgi -n execs the listener, so SIGTERM by PID reaches it directly.
        let exit = try await listener.stop()
        #expect(exit == .exited(0), "\(listener.process.diagnostics())")
        #expect(listener.log.contains("stopped"), "\(listener.log)")
    }
}
