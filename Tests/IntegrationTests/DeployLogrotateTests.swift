import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// deploy/logrotate/contact-listener, run by Debian's logrotate against a live listener:
/// the README's promise that SIGUSR1 reopens `log_file` after a rotation.
@Suite("Deploy: logrotate recipe")
struct DeployLogrotateTests {
    @Test("logrotate --force with the recipe: old lines stay in listener.log.1, SIGUSR1 moves new ones to a new listener.log")
    func rotation() async throws {
        let logrotate = try tool("logrotate", package: "logrotate")
        let directory = try TestDirectory("logrotate")
        defer { directory.remove() }
        var config = ListenerConfig()
        config.logFile = "listener.log"
        let listener = try await ListenerProcess.serve(in: directory, config: config)
        defer { listener.process.stop(signal: SIGKILL) }
        let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint)
        defer { nginx.stop() }
        let client = try CurlClient(port: nginx.port, directory: directory)
        let log = directory.file("listener.log"), rotated = directory.file("listener.log.1")

        let before = try await client.send(.form("transactionid=tx-before-rotation&contact%5Bemail%5D=r%40x.y"))
        #expect(before.status == 200, "\(before)")
        // The recipe as written, pointed at this test's files; `su` names a user the test
        // machine need not have, and the test's folder is its own.
        let pidFile = try directory.write("spawn.pid", "\(listener.process.pid)\n")
        let recipe = try directory.write("logrotate.conf", try DeployRecipe.render("logrotate/contact-listener", [
            ("/var/log/contact-listener/listener.log", log),
            ("/run/contact-listener/spawn.pid", pidFile),
            ("    su contact-listener adm\n", ""),
        ]))
        let rotation = try await runCommandAsync(
            ["--force", "--verbose", "--state", directory.file("logrotate.state"), recipe],
            in: directory, executable: logrotate)
        #expect(rotation.exit == .exited(0), "\(rotation)")
        let reopened = poll(timeout: 60) { readText(log).contains("log file reopened") }
        #expect(reopened, "no 'log file reopened' in a new \(log)\n\(rotation)\n\(listener.process.diagnostics())")

        let after = try await client.send(.form("transactionid=tx-after-rotation&contact%5Bemail%5D=r%40x.y"))
        #expect(after.status == 200, "\(after)")
        #expect(try await listener.stop() == .exited(0))
        let old = readText(rotated), new = readText(log)
        #expect(old.contains("tx-before-rotation") && !old.contains("tx-after-rotation"), "listener.log.1:\n\(old)")
        #expect(new.contains("tx-after-rotation") && !new.contains("tx-before-rotation"), "listener.log:\n\(new)")
        #expect(new.contains("stopped"), "the shutdown lines go to the new file too:\n\(new)")
        #expect(listener.storedLines.count == 2)
    }
}
