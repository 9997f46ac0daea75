import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The spool can't be written: the listener answers 503 with a JSON error and acknowledges
/// nothing it did not store; it stays up. Root ignores permissions, so "full" is made with
/// a file-size limit (`prlimit --fsize`, EFBIG; the listener ignores SIGXFSZ) or a tiny
/// tmpfs (ENOSPC).
@Suite("spool: disk full")
struct SpoolDiskFullTests {
    /// True when this process may mount a tmpfs (root with CAP_SYS_ADMIN, not in every container).
    static let canMountTmpfs: Bool = {
        guard let mount = try? tool("mount", package: "mount"), let umount = try? tool("umount", package: "mount"),
              let directory = try? TestDirectory("mount-probe") else { return false }
        defer { directory.remove() }
        let target = directory.file("mnt")
        guard (try? directory.folder("mnt")) != nil,
              let result = try? runCommand(["-t", "tmpfs", "-o", "size=64k", "tmpfs", target], in: directory, executable: mount),
              result.exit == .exited(0) else { return false }
        _ = try? runCommand([target], in: directory, executable: umount)
        return true
    }()

    enum Mode: String, CustomStringConvertible {
        case fileSizeLimit, tmpfs
        var description: String { rawValue }
    }

    @Test("file-size limit (prlimit --fsize): 503 + JSON error once the spool can't grow, nothing 503'd stored, every 200 delivered")
    func fileSizeLimit() async throws {
        try await diskFull(.fileSizeLimit)
    }

    @Test("full tmpfs (ENOSPC): 503 + JSON error, nothing 503'd stored, every 200 delivered",
          .enabled("mount -t tmpfs is not permitted here (needs root with CAP_SYS_ADMIN); the tmpfs variant is skipped",
                   { SpoolDiskFullTests.canMountTmpfs }))
    func fullTmpfs() async throws {
        try await diskFull(.tmpfs)
    }

    func diskFull(_ mode: Mode) async throws {
        let directory = try TestDirectory(mode == .tmpfs ? "full-tmpfs" : "full-fsize")
        defer { directory.remove() }
        let tmpfs = mode == .tmpfs ? try Tmpfs(in: directory, size: "256k") : nil
        defer { tmpfs?.unmount() }
        // The spool is what fills up; the jsonl output lives on the ordinary disk (tmpfs mode)
        // and grows far slower than the spool's WAL (file-size mode).
        let spoolPath = tmpfs.map { "\($0.path)/spool.db" } ?? directory.file("spool.db")
        let yaml = spoolSocketGroupLine + """
            threads: 2
            spool:
              path: \(spoolPath)
              retry: [500ms, 500ms, 1s, 1s, 2s, 2s, 2s]
              jitter: 0
              lease: 2s
            handlers:
              - type: jsonl
                path: events.jsonl

            """
        let configPath = try directory.write("listener.yaml", yaml)
        let prlimit = try tool("prlimit", package: "util-linux")
        // 256 KiB for every file the listener writes: enough to open the spool and store a
        // few events, far too little for many. Only the soft limit, so that it can be lifted
        // later without CAP_SYS_RESOURCE.
        let wrapper = mode == .fileSizeLimit ? [prlimit, "--fsize=262144:unlimited", "--"] : []
        var listener = try await SpoolServer.start(in: directory, configPath: configPath, wrapper: wrapper)
        var listeners = [listener]
        defer { for process in listeners { process.stop() } }
        let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint)
        defer { nginx.stop() }
        let client = try CurlClient(port: nginx.port, directory: directory)
        let cli = SpoolCLI(directory: directory, configPath: configPath)

        // Fill: POST until three 503s in a row (every event padded, so that each needs new pages).
        var answers: [(id: String, response: HTTPResponse)] = []
        func post(_ id: String) async throws -> HTTPResponse {
            let padding = String(repeating: "p", count: 2000)
            let response = try await client.send(.form(contactForm(id, extra: [("fields[1][name]", "Pad"), ("fields[1][value]", padding)])))
            answers.append((id, response))
            return response
        }
        var refusedInARow = 0
        var index = 0
        while refusedInARow < 3 && index < 600 {
            let response = try await post("tx-full-\(index)")
            index += 1
            refusedInARow = response.status == 503 ? refusedInARow + 1 : 0
        }
        try #require(refusedInARow == 3, "never got 503 after \(answers.count) requests\n\(listener.process.diagnostics())")
        #expect(answers.contains { $0.response.status == 200 }, "not one event was stored before the spool filled up")

        // Still up, still answering with JSON a moment later (503 while full; a 200 only if
        // the event fitted after all: both are checked against the spool below).
        try await pause(1.5)
        #expect(listener.process.isRunning, "the listener died when the spool filled up\n\(listener.process.diagnostics())")
        let again = try await post("tx-full-again")
        #expect([200, 503].contains(again.status), "\(again)")

        let acknowledged = Set(answers.filter { $0.response.status == 200 }.map(\.id))
        let refused = Set(answers.filter { $0.response.status == 503 }.map(\.id))
        let others = answers.filter { ![200, 503].contains($0.response.status) }
        print("disk full (\(mode)): \(acknowledged.count) acknowledged, \(refused.count) refused with 503 (`again` answered \(again.status))")
        #expect(others.isEmpty, "answers other than 200/503: \(others.prefix(3).map { "\($0.id): \($0.response)" })")
        for (id, response) in answers where response.status == 503 {
            let object = try response.json()
            #expect(object["ok"] as? Bool == false, "\(id): \(response)")
            #expect((object["error"] as? String)?.isEmpty == false, "\(id): a 503 must say why: \(response)")
        }

        // What the spool holds: every 200, no 503.
        let spooled = Set(try sqliteQuery(spoolPath, "SELECT transaction_id FROM events", in: directory))
        #expect(acknowledged.subtracting(spooled).isEmpty, "acknowledged but not in the spool: \(acknowledged.subtracting(spooled).sorted())")
        #expect(spooled.intersection(refused).isEmpty, "answered 503 but stored: \(spooled.intersection(refused).sorted())")

        // Space comes back (limit lifted / tmpfs grown): the same process takes events again.
        switch mode {
        case .fileSizeLimit:
            let lifted = try runCommand(["--pid", String(listener.process.pid), "--fsize=unlimited"], in: directory, executable: prlimit)
            try #require(lifted.exit == .exited(0), "prlimit --pid failed: \(lifted)")
        case .tmpfs:
            try tmpfs?.resize("16m")
        }
        var recovered: HTTPResponse?
        var recoveryIDs: [String] = []
        for attempt in 0..<20 {
            let id = "tx-full-recovered-\(attempt)"
            let response = try await client.send(.form(contactForm(id)))
            if response.status == 200 {
                recovered = response
                recoveryIDs.append(id)
                break
            }
            try await pause(0.25)
        }
        #expect(recovered != nil, "with space back, the running listener still refuses events (restart needed)\n\(listener.process.diagnostics())")

        // A fresh listener on the same spool delivers whatever is left; then every 200 is in the
        // output exactly once and no 503 at all.
        #expect(listener.stop() == .exited(0), "\(listener.process.diagnostics())")
        listener = try await SpoolServer.start(in: directory, configPath: configPath)
        listeners.append(listener)
        try await cli.waitUntilSettled()
        let lines = JSONLines(path: directory.file("events.jsonl"))
        #expect(lines.broken.isEmpty, "\(lines.broken.map { $0.prefix(200) }.prefix(3))")
        let counts = lines.countsByTransaction
        let expected = acknowledged.union(recoveryIDs)
        #expect(Set(counts.keys) == expected,
                "jsonl: missing \(expected.subtracting(counts.keys).sorted().prefix(10)), unexpected \(Set(counts.keys).subtracting(expected).sorted().prefix(10))")
        #expect(counts.values.allSatisfy { $0 == 1 }, "delivered twice: \(counts.filter { $0.value > 1 })")
    }

    /// Mounts a tmpfs of `size` at DIR/mnt for the test; `unmount()` in a defer.
    struct Tmpfs {
        let directory: TestDirectory
        let path: String
        let mount: String
        let umount: String

        init(in directory: TestDirectory, size: String) throws {
            self.directory = directory
            path = try directory.folder("mnt")
            mount = try tool("mount", package: "mount")
            umount = try tool("umount", package: "mount")
            let mounted = try runCommand(["-t", "tmpfs", "-o", "size=\(size),mode=0755", "tmpfs", path], in: directory, executable: mount)
            guard mounted.exit == .exited(0) else { throw TestFailure("mount -t tmpfs failed: \(mounted)") }
        }

        func resize(_ size: String) throws {
            let result = try runCommand(["-o", "remount,size=\(size)", path], in: directory, executable: mount)
            guard result.exit == .exited(0) else { throw TestFailure("remount failed: \(result)") }
        }

        func unmount() {
            if (try? runCommand([path], in: directory, executable: umount))?.exit != .exited(0) {
                _ = try? runCommand(["-l", path], in: directory, executable: umount)
            }
        }
    }

    @Test("jsonl output on a tmpfs that fills up and is grown again: every event exactly once, as a whole line",
          .enabled("mount -t tmpfs is not permitted here (needs root with CAP_SYS_ADMIN)", { SpoolDiskFullTests.canMountTmpfs }))
    func fullOutputDisk() async throws {
        let bench = try TestBench("full-output")
        defer { bench.tearDown() }
        let directory = bench.directory
        let tmpfs = try Tmpfs(in: directory, size: "64k")
        defer { tmpfs.unmount() }
        // The spool is on the ordinary disk (every event is accepted); the handler's file is on
        // a 64 KiB tmpfs that fills up after a few dozen events. Three quick retries, then
        // an hour: a failing delivery rests in `failed` however long the test takes to grow
        // the disk, and the test sends it again itself (it never runs out of attempts).
        let stack = try await bench.stack(config: TestBench.spoolConfig(retry: "[300ms, 300ms, 300ms, 1h]", jsonl: false, handlers: """
                  - type: jsonl
                    path: \(tmpfs.path)/events.jsonl

                """))

        var acknowledged: [String] = []
        for index in 0..<60 {
            let id = "tx-out-\(index)"
            let response = try await stack.post(contactForm(id, extra: [("fields[1][name]", "Pad"), ("fields[1][value]", String(repeating: "q", count: 1500))]))
            #expect(response.status == 200, "\(id): \(response)")
            if response.status == 200 { acknowledged.append(id) }
        }
        // The handler fails (and keeps retrying) while its disk is full.
        let failing = try await stack.cli.waitForRows(state: "failed", timeout: 60, "failed jsonl deliveries") { !$0.isEmpty }
        #expect((failing.first?["last_error"] as? String)?.contains("No space left") == true, "\(failing.first ?? [:])")
        try await pause(1.0)

        // Space comes back; what rests in `failed` goes again now.
        try tmpfs.resize("16m")
        try await stack.cli.retryFailedUntilSettled(delivered: acknowledged.count)

        let lines = JSONLines(path: "\(tmpfs.path)/events.jsonl")
        let counts = lines.countsByTransaction
        let missing = acknowledged.filter { counts[$0] == nil }
        #expect(missing.isEmpty, """
            acknowledged, marked delivered, but no whole line for: \(missing); unparseable lines: \
            \(lines.broken.map { "\($0.prefix(40))…\($0.suffix(30)) (\($0.utf8.count) bytes)" })
            """)
        let twice = counts.filter { $0.value > 1 }.keys.sorted()
        #expect(twice.isEmpty, "written twice: \(twice)")
    }

    @Test("jsonl output: a batch written only in part (disk full mid-write) adds no duplicate lines when retried",
          .enabled("mount -t tmpfs is not permitted here (needs root with CAP_SYS_ADMIN)", { SpoolDiskFullTests.canMountTmpfs }))
    func partlyWrittenBatch() async throws {
        let bench = try TestBench("full-batch")
        defer { bench.tearDown() }
        let directory = bench.directory
        let tmpfs = try Tmpfs(in: directory, size: "64k")
        defer { tmpfs.unmount() }
        // 56 KiB of filler: two 4 KiB pages stay free for the handler's file.
        let filler = "\(tmpfs.path)/filler"
        try Data(repeating: 0x2e, count: 56 * 1024).write(to: URL(fileURLWithPath: filler))
        let configPath = try directory.write("listener.yaml", """
            spool:
              path: spool.db
              retry: [300ms, 300ms]
              jitter: 0
              batch_size: 8
              cgi_delivery_budget: 0
            handlers:
              - type: jsonl
                path: \(tmpfs.path)/events.jsonl

            """)
        // Eight events of eight contacts (one contact's events go one at a time), stored by CGI
        // requests (which deliver nothing: budget 0).
        let ids = (0..<8).map { "tx-batch-\($0)" }
        for id in ids {
            let body = contactForm(id, email: "\(id)@example.com", extra: [("fields[1][name]", "Pad"), ("fields[1][value]", String(repeating: "r", count: 1500))])
            let answer = try await offload { try runCGIRequest(in: directory, configPath: configPath, body: Array(body.utf8)) }
            try #require(answer.status == 200, "\(answer)")
        }
        let cli = SpoolCLI(directory: directory, configPath: configPath)
        // One batch of 8 lines (~15 KB) into 8 KiB of space: some lines whole, one cut, the write fails.
        let first = try cli.run(["drain", "--max-time", "10s"])
        #expect(first.exit == .exited(0), "\(first)")
        let status = try cli.status()
        #expect(status["jsonl"]?["failed"] == ids.count, "the batch should have failed as a whole: \(status)")
        let partial = JSONLines(path: "\(tmpfs.path)/events.jsonl")
        #expect(!partial.objects.isEmpty, "no line fitted (the test's arithmetic is off): \(partial.raw.map { $0.utf8.count })")

        // Space back; the retry delivers the batch.
        unlink(filler)
        try await pause(0.5)
        let second = try cli.run(["drain", "--max-time", "10s"])
        #expect(second.exit == .exited(0), "\(second)")
        try await cli.waitUntilSettled(delivered: ids.count)

        let lines = JSONLines(path: "\(tmpfs.path)/events.jsonl")
        let counts = lines.countsByTransaction
        #expect(ids.filter { counts[$0] == nil }.isEmpty, "missing: \(ids.filter { counts[$0] == nil })")
        let twice = counts.filter { $0.value > 1 }.keys.sorted()
        #expect(twice.isEmpty, """
            written twice: \(twice): the lines of the batch that were written whole before the disk filled \
            were written again when the failed batch was retried
            """)
    }
}
