import Foundation
import Synchronization

/// The setup most integration tests share, written once: a private folder, a recorder
/// standing in for the CRM when the test asks for one, and a spooling listener behind nginx
/// from a YAML config. `tearDown()` stops by PID whatever the bench started, newest first,
/// and removes the folder:
///
///     let bench = try TestBench("dedup")
///     defer { bench.tearDown() }
///     let recorder = try await bench.recorder()
///     let stack = try await bench.stack(config: TestBench.spoolConfig(handlers: recorder.crmHandler()))
final class TestBench: Sendable {
    /// The test's private folder.
    let directory: TestDirectory
    private let stops = Mutex<[@Sendable () -> Void]>([])

    /// A bench in a fresh folder named after `tag`.
    init(_ tag: String) throws {
        directory = try TestDirectory(tag)
    }

    /// Starts a recorder (see `Recorder`), stopped with the bench.
    func recorder(name: String = "recorder", plan: String = #"{"steps":[{"status":200}]}"#) async throws -> Recorder {
        let recorder = try await Recorder.start(in: directory, name: name, plan: plan)
        onTearDown { recorder.stop() }
        return recorder
    }

    /// Starts a spooling listener from `config` behind nginx (see `SpoolStack`), stopped
    /// with the bench (a test may stop it itself first, to see how it ended).
    func stack(config: String, environment: [String: String] = [:]) async throws -> SpoolStack {
        let stack = try await SpoolStack.start(in: directory, config: config, environment: environment)
        onTearDown { stack.stop() }
        return stack
    }

    /// Runs `stop` when the bench is torn down (before what was registered earlier).
    func onTearDown(_ stop: @escaping @Sendable () -> Void) {
        stops.withLock { $0.append(stop) }
    }

    /// Stops what the bench started, newest first, and removes its folder.
    func tearDown() {
        let registered = stops.withLock { stops in defer { stops = [] }; return stops }
        for stop in registered.reversed() { stop() }
        directory.remove()
    }

    /// The config most spool tests run: `spool.db` with the retry schedule the test sets and
    /// no jitter (so the test decides when a retry is due), more `spool:` options, then the
    /// jsonl handler writing `events.jsonl` and `handlers` (YAML list items).
    static func spoolConfig(retry: String = "[1s]", options: [String] = [], jsonl: Bool = true, handlers: String = "") -> String {
        var lines = ["spool:", "  path: spool.db", "  retry: \(retry)", "  jitter: 0"]
        lines += options.map { "  \($0)" }
        lines.append("handlers:")
        if jsonl { lines += ["  - type: jsonl", "    path: events.jsonl"] }
        return lines.joined(separator: "\n") + "\n" + handlers + "\n"
    }
}

extension Recorder {
    /// A `type: http` handler item that posts to this recorder's `path`, with more
    /// handler options (`timeout: 10s`), for `TestBench.spoolConfig(handlers:)`.
    func crmHandler(name: String = "crm", path: String = "/contacts", options: [String] = []) -> String {
        (["  - type: http", "    name: \(name)", "    url: \"\(url)\(path)\""] + options.map { "    \($0)" }).joined(separator: "\n") + "\n"
    }
}
