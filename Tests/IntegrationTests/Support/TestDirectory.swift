import ListenerSupport
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A private folder for one test, made with `mkdtemp` under /tmp (short, so unix socket
/// paths stay far below the 107-byte limit), mode 0755 so nginx's `nobody` worker can
/// reach a socket inside it, and removed by `remove()` (call it from a `defer`).
///
/// `make test` sets `CONTACT_LISTENER_TEST_TMPDIR` to a folder of its own run: every test
/// folder is made inside it, so the check after the run (scripts/leftover-processes.sh)
/// finds any process that a test left running there.
final class TestDirectory: Sendable {
    /// The folder's absolute path.
    let path: String

    /// Where test folders are made: `$CONTACT_LISTENER_TEST_TMPDIR`, else /tmp.
    static let base: String = {
        let folder = ProcessInfo.processInfo.environment["CONTACT_LISTENER_TEST_TMPDIR"] ?? ""
        return folder.isEmpty ? "/tmp" : folder
    }()

    /// Creates `BASE/cl-<tag>-XXXXXX`.
    init(_ tag: String) throws {
        var template = Array("\(Self.base)/cl-\(tag.prefix(12))-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress.flatMap { mkdtemp($0) }.map { String(cString: $0) }
        }
        guard let made else { throw TestFailure("mkdtemp failed: \(String(cString: strerror(errno)))") }
        path = made
        guard chmod(path, 0o755) == 0 else { throw TestFailure("chmod \(path) failed") }
    }

    /// `path/name`.
    func file(_ name: String) -> String { "\(path)/\(name)" }

    /// Creates the sub-folder `name` (and its parents), mode 0755, and returns its path.
    @discardableResult
    func folder(_ name: String) throws -> String {
        let folder = file(name)
        try FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        return folder
    }

    /// Writes `text` to `path/name` and returns the file's path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try write(name, Data(text.utf8))
    }

    /// Writes `data` to `path/name` and returns the file's path.
    @discardableResult
    func write(_ name: String, _ data: Data) throws -> String {
        let target = file(name)
        try data.write(to: URL(fileURLWithPath: target))
        return target
    }

    /// Deletes the folder and everything in it (kept when INTEGRATION_KEEP_DIRS=1, for
    /// looking at the logs of a failing test).
    func remove() {
        if ProcessInfo.processInfo.environment["INTEGRATION_KEEP_DIRS"] == "1" {
            print("kept test folder \(path)")
            return
        }
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// A failure of the test harness itself (a process that did not start, a timeout), with
/// the details needed to understand it in the test log.
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Reads a whole file as UTF-8 text ("" if it can't be read), to its end: the product's
/// own reader, a `read` loop. Foundation's `contents(atPath:)` stops after the first page
/// of a procfs file such as /proc/net/tcp (4,050 of 28,950 bytes, measured), so a
/// listening socket past that page would never be found.
func readText(_ path: String) -> String {
    (try? FileSystem.readText(path)) ?? ""
}

/// True when something exists at `path` (a socket counts).
func pathExists(_ path: String) -> Bool {
    var status = stat()
    return lstat(path, &status) == 0
}

/// Polls `condition` every 20 ms until it is true or `timeout` seconds passed.
func poll(timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if condition() { return true }
        if Date() >= deadline { return false }
        usleep(20_000)
    }
}

/// Runs blocking work (waiting for a process, a curl request) on a thread of its own, so
/// the tests, which run in parallel on Swift's small cooperative pool, never starve it.
func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.start()
    }
}

/// Runs `body(index)` for every index in `0..<count` on `count` threads at once and
/// returns the results in index order (the concurrent clients of the load tests).
func concurrently<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> T) async throws -> [T] {
    try await withThrowingTaskGroup(of: (Int, T).self) { group in
        for index in 0..<count {
            group.addTask { (index, try await offload { try body(index) }) }
        }
        var results: [(Int, T)] = []
        for try await result in group { results.append(result) }
        return results.sorted { $0.0 < $1.0 }.map(\.1)
    }
}

/// A counter shared by the threads of a test.
final class Counter: Sendable {
    private let count = Atomic<Int>(0)

    /// Adds one and returns the new value.
    func increment() -> Int { count.add(1, ordering: .relaxed).newValue }

    /// The current value.
    var value: Int { count.load(ordering: .relaxed) }
}
