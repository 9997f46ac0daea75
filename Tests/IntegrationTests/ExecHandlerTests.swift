import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `type: exec`: a program per event, the event's JSON on stdin, its main values in the
/// environment, exit 0 = stored; failures retried, timeouts killed, large payloads intact.
@Suite("exec handler")
struct ExecHandlerTests {
    /// A script that saves its stdin and environment as OUT/<TRANSACTION_ID>.stdin / .env,
    /// and fails (exit 3, a message on stderr) while OUT/fail exists. Every run is counted
    /// in OUT/runs.
    static let captureScript = """
        #!/bin/sh
        echo "run $TRANSACTION_ID" >> "$OUT/runs"
        if [ -e "$OUT/fail" ]; then
            echo "backend says no for $TRANSACTION_ID" >&2
            exit 3
        fi
        cat > "$OUT/$TRANSACTION_ID.stdin" || exit 1
        env > "$OUT/$TRANSACTION_ID.env"

        """

    /// Writes the capture script (mode 0755) and the output folder; returns the folder.
    static func installCapture(in directory: TestDirectory) throws -> String {
        let script = try directory.write("capture.sh", captureScript)
        chmod(script, 0o755)
        return try directory.folder("out")
    }

    /// KEY=VALUE lines as a dictionary.
    static func environment(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return values
    }

    @Test("success: stdin is the stored event JSON byte for byte; CONTACT_EMAIL, TRANSACTION_ID & co. in the environment")
    func success() async throws {
        let bench = try TestBench("exec-ok")
        defer { bench.tearDown() }
        let directory = bench.directory
        let out = try Self.installCapture(in: directory)
        let stack = try await bench.stack(config: TestBench.spoolConfig(handlers: """
                  - type: exec
                    name: script
                    command: [./capture.sh, --ignored-argument]
                    timeout: 10s
                    env:
                      OUT: \(out)
                      CRM_TOKEN: from-the-config

                """), environment: ["LISTENER_ONLY_SECRET": "must-not-leak"])

        let answer = try await stack.postAccepted(formBody([
            ("transactionid", "tx-exec-1"), ("contact[id]", "1001"), ("contact[email]", "ann@example.com"),
            ("contact[phone]", "+4755501234"), ("fields[0][name]", "Note"), ("fields[0][value]", "a 'quoted' $value; `rm -rf /`\nsecond line"),
        ]))
        try await stack.cli.waitUntilSettled(delivered: 2)

        let stdin = readText("\(out)/tx-exec-1.stdin")
        let lines = JSONLines(path: directory.file("events.jsonl"))
        #expect(lines.raw.count == 1)
        #expect(stdin == lines.raw.first, "stdin differs from the stored event\nstdin: \(stdin.prefix(500))\njsonl: \(lines.raw.first?.prefix(500) ?? "")")
        let stored = try sqliteQuery(directory.file("spool.db"), "SELECT json FROM events", in: directory).joined(separator: "\n")
        #expect(stdin == stored, "stdin differs from the spool's JSON")
        let event = try jsonObject(stdin)
        #expect((event["fields"] as? [[String: Any]])?.first?["value"] as? String == "a 'quoted' $value; `rm -rf /`\nsecond line")

        let environment = Self.environment(readText("\(out)/tx-exec-1.env"))
        #expect(environment["CONTACT_EMAIL"] == "ann@example.com")
        #expect(environment["TRANSACTION_ID"] == "tx-exec-1")
        #expect(environment["CONTACT_ID"] == "1001")
        #expect(environment["CONTACT_PHONE"] == "+4755501234")
        #expect(environment["REQUEST_ID"] == answer["request_id"] as? String)
        #expect(environment["RECEIVED_AT"] == (event["meta"] as? [String: Any])?["received_at"] as? String)
        #expect(environment["EVENT_MODE"] == "structured")
        #expect(environment["DELIVERY_IN_DOUBT"] == "0")
        #expect(environment["CRM_TOKEN"] == "from-the-config")
        #expect(environment["PATH"]?.isEmpty == false)
        #expect(environment["LISTENER_ONLY_SECRET"] == nil, "the listener's own environment leaked into the handler")
        #expect(readText("\(out)/runs") == "run tx-exec-1\n", "the script ran more than once")
    }

    @Test("the program inherits stdin, stdout and stderr only: no listening socket, no client connection, no file of ours")
    func inheritsNoDescriptors() async throws {
        let bench = try TestBench("exec-fds")
        defer { bench.tearDown() }
        let directory = bench.directory
        let out = try directory.folder("out")
        // Lists the shell's descriptors (from a child, so the listing opens none in the
        // shell itself) while the request is in flight: no spool, so the handler runs
        // before the answer, with nginx's connection to the listener open.
        let script = try directory.write("fds.sh", """
            #!/bin/sh
            find /proc/$$/fd -mindepth 1 -fprintf "$OUT/fds" '%f %l\\n'

            """)
        chmod(script, 0o755)
        let stack = try await bench.stack(config: """
            handlers:
              - type: jsonl
                path: events.jsonl
              - type: exec
                command: [./fds.sh]
                env: { OUT: \(out) }

            """)
        try await stack.postAccepted(contactForm("tx-exec-fds"))
        let lines = readText("\(out)/fds").split(separator: "\n").map(String.init)
        try #require(!lines.isEmpty, "the script wrote no descriptor list")
        let extra = lines.map { $0.split(separator: " ", maxSplits: 1).map(String.init) }.filter { entry in
            guard let number = Int(entry.first ?? ""), number > 2, let target = entry.last else { return false }
            return !target.hasSuffix("/fds.sh")  // the shell's own: the script it runs (dash: fd 10)
        }
        #expect(extra.isEmpty, "the program inherited descriptors beyond 0-2: \(extra)")
    }

    @Test("non-zero exit: retried on the schedule, stderr in last_error; delivered once the script succeeds")
    func failureIsRetried() async throws {
        let bench = try TestBench("exec-fail")
        defer { bench.tearDown() }
        let directory = bench.directory
        let out = try Self.installCapture(in: directory)
        try directory.write("out/fail", "")
        // One retry after 1 s, the next an hour later: after two failed attempts the
        // delivery rests in `failed` however slowly the test looks, and the test decides
        // when the third attempt runs (`spool retry`), after the backend is "fixed".
        let stack = try await bench.stack(config: TestBench.spoolConfig(retry: "[1s, 1h]", jsonl: false, handlers: """
                  - type: exec
                    name: script
                    command: [./capture.sh]
                    env: { OUT: \(out) }

                """))

        try await stack.postAccepted(contactForm("tx-exec-fail"))
        let failed = try await stack.cli.waitForRows(timeout: 60, "the delivery failed twice (first attempt and its retry 1 s later)") { rows in
            rows.first?["state"] as? String == "failed" && rows.first?["attempts"] as? Int == 2
        }
        let error = failed.first?["last_error"] as? String ?? ""
        #expect(error.contains("exited with status 3"), "last_error: \(error)")
        #expect(error.contains("backend says no for tx-exec-fail"), "stderr should be in last_error: \(error)")
        #expect(!pathExists("\(out)/tx-exec-fail.stdin"))
        #expect(readText("\(out)/runs").split(separator: "\n").count == 2)

        unlink("\(out)/fail")
        let retried = try stack.cli.run(["spool", "retry", String(rowID(try #require(failed.first)))])
        #expect(retried.exit == .exited(0), "\(retried)")
        try await stack.cli.waitUntilSettled(delivered: 1, timeout: 60)
        let runs = readText("\(out)/runs").split(separator: "\n")
        let row = try #require(try stack.cli.list().first)
        #expect(row["state"] as? String == "delivered")
        #expect(runs.count == 3, "two failed runs and the one after the retry: \(runs)")
        #expect(row["attempts"] as? Int == 1, "`spool retry` starts the count again: \(row)")
        #expect(try jsonObject(readText("\(out)/tx-exec-fail.stdin"))["transactionid"] as? String == "tx-exec-fail")
    }

    @Test("timeout: `sleep 30` with timeout 1s fails within seconds, and the program (and its children) are killed")
    func timeoutKillsTheProcessGroup() async throws {
        let bench = try TestBench("exec-timeout")
        defer { bench.tearDown() }
        let directory = bench.directory
        let out = try directory.folder("out")
        // A script that starts a child of its own and waits for it (the process group must go).
        let script = try directory.write("slow.sh", """
            #!/bin/sh
            echo $$ > "$OUT/script.pid"
            sleep 30 &
            echo $! > "$OUT/sleep.pid"
            wait

            """)
        chmod(script, 0o755)
        let sleep = try tool("sleep", package: "coreutils")
        let stack = try await bench.stack(config: TestBench.spoolConfig(retry: "[60s]", jsonl: false, handlers: """
                  - type: exec
                    name: plain
                    command: [\(sleep), "30"]
                    timeout: 1s
                  - type: exec
                    name: script
                    command: [./slow.sh]
                    timeout: 1s
                    env: { OUT: \(out) }

                """))
        // The programs the handlers started, found by PID (the listener's children, and the
        // pids the script wrote); whatever still runs at the end is killed by PID.
        let spawned = Mutex<[Int32]>([])
        defer {
            for pid in spawned.withLock({ $0 }) where isAlive(pid) { kill(pid, SIGKILL) }
        }

        let started = Date()
        let listenerPID = stack.listener.process.pid
        try await stack.postAccepted(contactForm("tx-exec-slow"))
        let scriptPIDs = try await offload { () -> [Int32] in
            // A file exists as soon as the shell opens it for the redirection, before `echo`
            // wrote the number: wait until both hold one.
            func pids() -> [Int32] {
                ["script.pid", "sleep.pid"].compactMap { Int32(readText("\(out)/\($0)").trimmingCharacters(in: .whitespacesAndNewlines)) }
            }
            _ = poll(timeout: 30) { pids().count == 2 }
            return pids()
        }
        spawned.withLock { $0 = scriptPIDs }
        // The plain `sleep 30` lives for 1 s only, too short to catch for sure on a loaded
        // machine; its kill shows in the timeout's last_error and, below, in no live
        // `sleep 30` left among the listener's children.
        #expect(scriptPIDs.count == 2, "the script did not write both pids within 30 s: \(scriptPIDs)")

        // Both deliveries must fail before the 30 s sleep could end by itself.
        let failed = try await offload {
            poll(timeout: 25) {
                let rows = (try? stack.cli.list()) ?? []
                return rows.count == 2 && rows.allSatisfy { $0["state"] as? String == "failed" }
            }
        }
        let rows = try stack.cli.list()
        #expect(failed, "after \(Int(Date().timeIntervalSince(started))) s the 1 s timeouts have not failed the deliveries: \(rows)")
        for row in rows where row["state"] as? String == "failed" {
            let error = row["last_error"] as? String ?? ""
            #expect(error.contains("ran longer than 1000 ms and was killed"), "last_error: \(error)")
            #expect(row["attempts"] as? Int == 1)
        }
        // And the programs are gone (the script's background child too).
        let pids = spawned.withLock { $0 }
        _ = try await offload { poll(timeout: 10) { pids.allSatisfy { !isAlive($0) } } }
        let plainLeft = try await offload { () -> [Int32] in
            var left: [Int32] = []
            _ = poll(timeout: 10) {
                left = children(of: listenerPID).filter { isAlive($0) && readText("/proc/\($0)/cmdline").hasPrefix("\(sleep)\u{0}30") }
                return left.isEmpty
            }
            return left
        }
        spawned.withLock { $0 += plainLeft }
        #expect(plainLeft.isEmpty, "the plain `sleep 30` still runs (pids \(plainLeft)) after its 1 s timeout")
        for pid in pids where isAlive(pid) {
            Issue.record("pid \(pid) (\(readText("/proc/\(pid)/cmdline").replacingOccurrences(of: "\u{0}", with: " "))) still runs \(Int(Date().timeIntervalSince(started))) s after a 1 s timeout")
        }
    }

    @Test("the retry after a timed-out attempt (which may have stored the event) says DELIVERY_IN_DOUBT=1")
    func retryAfterTimeoutIsInDoubt() async throws {
        let bench = try TestBench("exec-doubt")
        defer { bench.tearDown() }
        let directory = bench.directory
        let out = try directory.folder("out")
        // First run: takes the event (writes it), then hangs (stderr closed, so the time limit
        // is what ends it). Later runs: record DELIVERY_IN_DOUBT and succeed.
        let script = try directory.write("store-then-hang.sh", """
            #!/bin/sh
            echo "$DELIVERY_IN_DOUBT" >> "$OUT/doubt"
            if [ ! -e "$OUT/first-done" ]; then
                echo $$ > "$OUT/first.pid"
                cat > "$OUT/stored.json"
                touch "$OUT/first-done"
                exec 2>&-
                sleep 30
            fi
            exit 0

            """)
        chmod(script, 0o755)
        let stack = try await bench.stack(config: TestBench.spoolConfig(retry: "[300ms, 300ms]", jsonl: false, handlers: """
                  - type: exec
                    name: script
                    command: [./store-then-hang.sh]
                    timeout: 1s
                    env: { OUT: \(out) }

                """))
        defer {
            if let pid = Int32(readText("\(out)/first.pid").trimmingCharacters(in: .whitespacesAndNewlines)), isAlive(pid) { kill(-pid, SIGKILL) }
        }

        try await stack.postAccepted(contactForm("tx-exec-doubt"))
        try await stack.cli.waitUntilSettled(delivered: 1)
        #expect(pathExists("\(out)/stored.json"), "the first attempt stored the event before it hung")
        let flags = readText("\(out)/doubt").split(separator: "\n").map(String.init)
        #expect(flags.count == 2, "two runs expected (the timed-out one and its retry): \(flags)")
        #expect(flags.first == "0", "the first attempt can't be in doubt: \(flags)")
        #expect(flags.dropFirst().first == "1",
                "the retry after an attempt killed on its timeout must be flagged DELIVERY_IN_DOUBT=1 (that attempt may have stored the event, as here): \(flags)")
    }

    @Test("a 5 MB field value via CGI reaches the program's stdin intact")
    func largePayloadThroughCGI() async throws {
        let bench = try TestBench("exec-5mb")
        defer { bench.tearDown() }
        let directory = bench.directory
        let out = try Self.installCapture(in: directory)
        let configPath = try directory.write("listener.yaml", """
            limits:
              max_body_bytes: 16777216
              max_value_bytes: 8388608
            spool:
              path: spool.db
              cgi_delivery_budget: 30s
            handlers:
              - type: exec
                name: script
                command: [./capture.sh]
                timeout: 30s
                env: { OUT: \(out) }

            """)
        // 5 MiB of letters and digits from a small LCG: no repetition that could hide a
        // dropped or reordered chunk.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
        var state: UInt32 = 12345
        var value = [UInt8](repeating: 0, count: 5 * 1024 * 1024)
        for index in value.indices {
            state = state &* 1_103_515_245 &+ 12345
            value[index] = alphabet[Int((state >> 16) % UInt32(alphabet.count))]
        }
        let head = "transactionid=tx-exec-5mb&contact%5Bemail%5D=big%40example.com&fields%5B0%5D%5Bname%5D=Blob&fields%5B0%5D%5Bvalue%5D="
        let body = Array(head.utf8) + value
        let answer = try await offload { try runCGIRequest(in: directory, configPath: configPath, body: body, timeout: 90) }
        #expect(answer.exit == .exited(0), "\(answer)")
        #expect(answer.status == 200, "\(answer)")

        // The CGI process delivered within its budget before it exited.
        let stdin = try Data(contentsOf: URL(fileURLWithPath: "\(out)/tx-exec-5mb.stdin"))
        #expect(stdin.count > value.count, "stdin has \(stdin.count) bytes")
        let event = try jsonObject(String(decoding: stdin, as: UTF8.self))
        let field = (event["fields"] as? [[String: Any]])?.first
        let received = field?["value"] as? String ?? ""
        #expect(received.utf8.count == value.count, "the value arrived with \(received.utf8.count) of \(value.count) bytes")
        #expect(received == String(decoding: value, as: UTF8.self), "the 5 MB value arrived changed")
        let environment = Self.environment(readText("\(out)/tx-exec-5mb.env"))
        #expect(environment["CONTACT_EMAIL"] == "big@example.com")
        let cli = SpoolCLI(directory: directory, configPath: configPath)
        #expect(try cli.status()["script"]?["delivered"] == 1)
    }

    @Test("deploy/examples/exec-handler.php (php-cli) appends one CSV row per contact")
    func phpExample() async throws {
        let bench = try TestBench("exec-php")
        defer { bench.tearDown() }
        let directory = bench.directory
        let php = try tool("php", package: "php-cli")
        let script = try directory.write("exec-handler.php", readText(SpoolPaths.example("exec-handler.php")))
        let csv = directory.file("contacts.csv")
        let stack = try await bench.stack(config: TestBench.spoolConfig(handlers: """
                  - type: exec
                    name: php
                    command: [\(php), \(script)]
                    timeout: 30s
                    env:
                      EXEC_HANDLER_CSV: \(csv)

                """))

        try await stack.postAccepted(contactForm("tx-php-1", email: "ann@example.com", firstName: "Ann"))
        try await stack.postAccepted(contactForm("tx-php-2", email: "bob@example.com", firstName: nil))
        let status = try await stack.cli.waitUntilSettled(delivered: 4, timeout: 30)
        #expect(status["php"]?["dead"] == 0, "\(status)")

        let receivedAt = Dictionary(uniqueKeysWithValues: JSONLines(path: directory.file("events.jsonl")).objects.map {
            ($0["transactionid"] as? String ?? "", ($0["meta"] as? [String: Any])?["received_at"] as? String ?? "")
        })
        let rows = readText(csv).split(separator: "\n").map(String.init).sorted()
        #expect(rows == [
            "tx-php-1,ann@example.com,Ann,\(receivedAt["tx-php-1"] ?? "?")",
            "tx-php-2,bob@example.com,,\(receivedAt["tx-php-2"] ?? "?")",
        ], "contacts.csv: \(rows)")
    }
}
