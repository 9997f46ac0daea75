import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How a process ended.
struct ExitStatus: Equatable, Sendable, CustomStringConvertible {
    /// The exit code, or the signal number when `signaled`.
    var code: Int32
    /// True when a signal ended the process.
    var signaled: Bool

    /// A normal exit with `code`.
    static func exited(_ code: Int32) -> ExitStatus { ExitStatus(code: code, signaled: false) }

    var description: String { signaled ? "killed by signal \(code)" : "exit \(code)" }
}

/// The write end of a pipe that becomes a child's stdin; the test writes the body and
/// decides when (or whether) the child sees EOF.
final class InputPipe: @unchecked Sendable {
    fileprivate let readEnd: Int32
    private let lock = NSLock()
    private var writeEnd: Int32

    init() throws {
        // No O_CLOEXEC needed: every child closes all descriptors above 2 (see SpawnExtensions).
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw TestFailure("pipe: \(String(cString: strerror(errno)))") }
        readEnd = fds[0]
        writeEnd = fds[1]
    }

    /// Writes all of `bytes`.
    func write(_ bytes: [UInt8]) throws {
        try lock.withLock {
            var offset = 0
            while offset < bytes.count {
                let count = bytes[offset...].withUnsafeBytes { Glibc.write(writeEnd, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { throw TestFailure("write to pipe: \(String(cString: strerror(errno)))") }
                offset += count
            }
        }
    }

    /// Closes the write end: the child reads EOF.
    func close() {
        lock.withLock {
            if writeEnd >= 0 { Glibc.close(writeEnd) }
            writeEnd = -1
        }
    }

    deinit {
        close()
        Glibc.close(readEnd)
    }
}

/// glibc's posix_spawn extensions (2.29 and 2.34), which Swift's Glibc module doesn't
/// import (they need _GNU_SOURCE): looked up at run time.
enum SpawnExtensions {
    typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    typealias ChangeDirectory = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    /// `posix_spawn_file_actions_addclosefrom_np`: the child inherits only 0, 1 and 2.
    static let closeFrom: CloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np")
    /// `posix_spawn_file_actions_addchdir_np`.
    static let changeDirectory: ChangeDirectory? = symbol("posix_spawn_file_actions_addchdir_np")

    private static func symbol<T>(_ name: String) -> T? {
        guard let address = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(address, to: T.self)
    }
}

/// Where a child's standard input comes from.
enum StandardInput {
    /// /dev/null.
    case null
    /// The contents of a file.
    case file(String)
    /// A pipe the test writes to.
    case pipe(InputPipe)
}

/// A process started by a test, with posix_spawn. Its stdout and stderr go to files (never
/// pipes: reading them can't block), it inherits no descriptor beyond 0-2 and no signal
/// mask or ignored signal from the test runner. It leads a process group of its own.
///
/// `stop()` always ends it, by PID: the signal (SIGTERM), then SIGKILL after a timeout.
/// Then it ends whatever the process started and left behind, whether the process exited
/// cleanly or was killed: every member of its group, and every descendant seen before the
/// signal (PostgreSQL's backends call setsid, so only the tree finds them). An nginx master
/// killed with SIGKILL would otherwise leave its workers running, and mod_fcgid's children
/// outlive a killed Apache. `deinit` does the same as a last resort.
///
/// Not Foundation.Process: in Swift 6.3.1 its `run()` on Linux crashes now and then (an
/// over-read of `dirent.d_name` in findMaximumOpenFromProcSelfFD, swift-corelibs-foundation
/// PR 5472), which took down the whole test run when many clients spawned curl at once.
final class ChildProcess: @unchecked Sendable {
    /// A short name for messages ("listener", "nginx", …).
    let name: String
    /// The file that receives stdout.
    let stdoutPath: String
    /// The file that receives stderr.
    let stderrPath: String
    /// The command line, for messages.
    let commandLine: String
    /// The process id.
    let pid: pid_t
    /// /proc's start time of `pid`, to tell it from a later process with the same pid.
    private let startTime: UInt64?
    private let lock = NSLock()
    private var exit: ExitStatus?

    /// Starts `executable` with exactly `arguments` and `environment` (nothing inherited).
    init(
        name: String, executable: String, arguments: [String], environment: [String: String],
        directory: String? = nil, stdin: StandardInput = .null, stdoutPath: String, stderrPath: String
    ) throws {
        self.name = name
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
        commandLine = ([executable] + arguments).joined(separator: " ")

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        switch stdin {
        case .null: posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        case .file(let path): posix_spawn_file_actions_addopen(&actions, 0, path, O_RDONLY, 0)
        case .pipe(let pipe): posix_spawn_file_actions_adddup2(&actions, pipe.readEnd, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = SpawnExtensions.closeFrom?(&actions, 3)
        if let directory {
            guard let chdir = SpawnExtensions.changeDirectory else { throw TestFailure("posix_spawn can't chdir here") }
            _ = chdir(&actions, directory)
        }

        // Default dispositions and an empty mask: the runner's threads block or ignore
        // signals (SIGPIPE…) that the child must see as any shell-started program does.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t()
        sigfillset(&all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        // A group of its own: `stop()` can end everything the process started, by group.
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let status = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard status == 0 else {
            throw TestFailure("can't start \(name) (\(commandLine)): \(String(cString: strerror(status)))")
        }
        pid = child
        startTime = ProcessEntry.read(child)?.startTime
    }

    deinit {
        if isRunning {
            let family = self.family()
            kill(pid, SIGKILL)
            _ = waitForExit(timeout: 5)
            endLeftovers(family)
        }
    }

    /// Reaps the child if it has exited (never blocks). Call with `lock` held.
    private func reap() -> ExitStatus? {
        if let exit { return exit }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        guard result == pid else { return nil }
        let signal = status & 0x7f
        exit = signal == 0 ? .exited((status >> 8) & 0xff) : ExitStatus(code: signal, signaled: true)
        return exit
    }

    /// True until the process has exited (and been reaped here).
    var isRunning: Bool { lock.withLock { reap() == nil } }

    /// What the process wrote to stdout so far.
    var stdout: String { readText(stdoutPath) }

    /// What the process wrote to stderr so far.
    var stderr: String { readText(stderrPath) }

    /// Sends `signal` to the process, by its PID, if it has not been reaped (so the PID
    /// can't belong to someone else yet).
    func send(_ signal: Int32) {
        lock.withLock {
            if reap() == nil { kill(pid, signal) }
        }
    }

    /// Waits up to `timeout` seconds for the process to exit; nil if it still runs.
    func waitForExit(timeout: Double) -> ExitStatus? {
        var result: ExitStatus?
        _ = poll(timeout: timeout) {
            result = lock.withLock { reap() }
            return result != nil
        }
        return result
    }

    /// Ends the process: `signal` (SIGTERM), then SIGKILL if it hasn't exited after
    /// `timeout` seconds. Returns how it ended. Safe to call again once it has exited.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: Double = 15) -> ExitStatus {
        let family = self.family()
        send(signal)
        var status = waitForExit(timeout: timeout)
        if status == nil {
            send(SIGKILL)
            status = waitForExit(timeout: 10)
        }
        endLeftovers(family)
        return status ?? ExitStatus(code: SIGKILL, signaled: true)
    }

    /// Everything the process started that runs now: its descendants and its group's members.
    private func family() -> [ProcessEntry] {
        let table = ProcessTable()
        return Array(Set(table.descendants(of: pid) + table.members(ofGroup: pid)).filter { $0.pid != pid })
    }

    /// SIGKILLs what is left of `family`, and of the process group, once the process has
    /// ended, then waits until none of it runs. What survives is reported on stderr; the
    /// check after the run (scripts/leftover-processes.sh) fails on it.
    private func endLeftovers(_ family: [ProcessEntry]) {
        func leftovers() -> [ProcessEntry] {
            let table = ProcessTable()
            var left = Set(family.filter { table.isLive($0) })
            // The group outlives its leader while a member runs, and its id can't be reused
            // meanwhile; a member forked after the snapshot is found here. Unless the pid
            // already belongs to another process, whose group this would be.
            let reused = table.entries[pid].map { $0.startTime != startTime } ?? false
            if !reused {
                left.formUnion(table.members(ofGroup: pid).filter { $0.pid != pid && $0.isLive })
            }
            return Array(left)
        }
        var left = leftovers()
        guard !left.isEmpty else { return }
        let ended = poll(timeout: 10) {
            for entry in left { kill(entry.pid, SIGKILL) }
            left = leftovers()
            return left.isEmpty
        }
        if !ended {
            FileHandle.standardError.write(Data("test support: \(name) (pid \(pid)) left processes that survive SIGKILL: \(left)\n".utf8))
        }
    }

    /// `stop()` without blocking Swift's cooperative threads.
    func stopAsync(signal: Int32 = SIGTERM, timeout: Double = 15) async throws -> ExitStatus {
        try await offload { self.stop(signal: signal, timeout: timeout) }
    }

    /// `waitForExit(timeout:)` without blocking Swift's cooperative threads.
    func waitForExitAsync(timeout: Double) async throws -> ExitStatus? {
        try await offload { self.waitForExit(timeout: timeout) }
    }

    /// A description with the command and the end of its stderr, for failure messages.
    func diagnostics() -> String {
        let tail = stderr.split(separator: "\n", omittingEmptySubsequences: false).suffix(15).joined(separator: "\n")
        return "\(name) (pid \(pid), \(isRunning ? "running" : "exited")): \(commandLine)\n--- stderr (end) ---\n\(tail)"
    }
}

/// The environment every child gets: a PATH and nothing from the test runner (no proxy
/// variables, no CONTACT_LISTENER_CONFIG leaking in), plus `extra`. Under `make test` it
/// also carries CONTACT_LISTENER_TEST_TMPDIR, which marks the run's processes for the
/// leftover check after the run (scripts/leftover-processes.sh).
func childEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
    var environment = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"]
    if TestDirectory.base != "/tmp" { environment["CONTACT_LISTENER_TEST_TMPDIR"] = TestDirectory.base }
    environment.merge(extra) { $1 }
    return environment
}

/// The absolute path of a tool the tests need, or a failure naming the Debian package.
func tool(_ name: String, package: String) throws -> String {
    let folders = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        + ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    for folder in folders where !folder.isEmpty {
        let candidate = "\(folder)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    throw TestFailure("\(name) is not installed; the integration tests need it: apt-get install -y \(package)")
}
