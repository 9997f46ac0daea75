import ContactListenerKit
import ListenerSupport
import CSpawn
#if canImport(Glibc)
import Glibc
#endif

/// Runs a program without a shell, feeding `input` on stdin and collecting stderr, with a
/// deadline after which the whole process group is killed. stdin and stderr are served by
/// one `poll` loop, so a child that writes a lot of stderr before reading all its input
/// can't deadlock us, and inputs larger than a pipe (megabytes) work.
package enum ChildProcess {
    private static let spawnLock = ConditionLock()

    /// How a run ended.
    package struct Outcome: Sendable {
        /// The exit status, or nil when killed by a signal.
        package var exitStatus: Int32?
        /// The signal that ended it, if any.
        package var signal: Int32?
        /// True when it was killed for running past the deadline.
        package var timedOut: Bool
        /// The first bytes of its stderr.
        package var standardError: String
    }

    /// Runs `arguments[0]` (looked up in `PATH` when it has no `/`) with `environment`.
    package static func run(
        _ arguments: [String], environment: [String: String], input: [UInt8], timeoutMilliseconds: Int64,
        stderrLimit: Int = 64 * 1024
    ) throws(SystemError) -> Outcome {
        guard let program = arguments.first else { throw SystemError("spawn", "(empty command)", code: EINVAL) }
        var stdinPipe: [Int32] = [-1, -1]
        var stderrPipe: [Int32] = [-1, -1]
        // pipe2(O_CLOEXEC) isn't visible from Swift; creating the pipes and spawning under one
        // lock keeps another thread's child from inheriting them before FD_CLOEXEC is set.
        spawnLock.lock()
        guard pipe(&stdinPipe) == 0 else { spawnLock.unlock(); throw SystemError("pipe", program) }
        guard pipe(&stderrPipe) == 0 else {
            close(stdinPipe[0]); close(stdinPipe[1])
            spawnLock.unlock()
            throw SystemError("pipe", program)
        }
        for fd in stdinPipe + stderrPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
        // Nothing else crosses into the program: not the FastCGI listening socket (fd 0
        // under spawn-fcgi, or one we opened), not a client's connection that libfcgi
        // accepted without close-on-exec, not a log file. A script must not be able to
        // answer for us, hold our socket open after we exit, or write to our files.
        guard cl_spawn_file_actions_addclosefrom(&actions, 3) == 0 else {
            for fd in stdinPipe + stderrPipe { close(fd) }
            spawnLock.unlock()
            throw SystemError("posix_spawn_file_actions_addclosefrom_np", program)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group, so a timeout kills whatever it started too; default signal
        // handling and an empty mask (we block SIGTERM & co. in our threads).
        var defaults = sigset_t()
        sigfillset(&defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = program.contains("/")
            ? posix_spawn(&pid, program, &actions, &attributes, &argv, &envp)
            : posix_spawnp(&pid, program, &actions, &attributes, &argv, &envp)
        spawnLock.unlock()
        close(stdinPipe[0])
        close(stderrPipe[1])
        guard spawned == 0 else {
            close(stdinPipe[1]); close(stderrPipe[0])
            throw SystemError("spawn", program, code: spawned)
        }
        let deadline = Timestamp.monotonicNanoseconds() + UInt64(max(0, timeoutMilliseconds)) * 1_000_000
        var errorBytes: [UInt8] = []
        var written = 0
        var stdinOpen = true
        if input.isEmpty { close(stdinPipe[1]); stdinOpen = false }
        var stderrOpen = true
        var timedOut = false
        _ = fcntl(stdinPipe[1], F_SETFL, fcntl(stdinPipe[1], F_GETFL) | O_NONBLOCK)
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while stdinOpen || stderrOpen {
            let now = Timestamp.monotonicNanoseconds()
            if now >= deadline { timedOut = true; break }
            var fds: [pollfd] = []
            if stdinOpen { fds.append(pollfd(fd: stdinPipe[1], events: Int16(POLLOUT), revents: 0)) }
            if stderrOpen { fds.append(pollfd(fd: stderrPipe[0], events: Int16(POLLIN), revents: 0)) }
            let waitMilliseconds = Int32(min(1_000, (deadline - now) / 1_000_000 + 1))
            let ready = poll(&fds, nfds_t(fds.count), waitMilliseconds)
            if ready < 0 && errno != EINTR { break }
            for entry in fds where entry.revents != 0 {
                if entry.fd == stdinPipe[1] {
                    let count = input.withUnsafeBytes { write(entry.fd, $0.baseAddress! + written, $0.count - written) }
                    if count > 0 { written += count }
                    if (count < 0 && errno != EAGAIN && errno != EINTR) || written == input.count {
                        // Done, or the child stopped reading (EPIPE): it decides by its exit code.
                        close(stdinPipe[1])
                        stdinOpen = false
                    }
                } else {
                    let count = chunk.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                    if count > 0 {
                        if errorBytes.count < stderrLimit { errorBytes.append(contentsOf: chunk[0..<min(count, stderrLimit - errorBytes.count)]) }
                    } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                        close(stderrPipe[0])
                        stderrOpen = false
                    }
                }
            }
        }
        if stdinOpen { close(stdinPipe[1]) }
        if stderrOpen { close(stderrPipe[0]) }
        var status: Int32 = 0
        var killed = false
        while true {
            // Past the deadline the whole group is killed first, then reaped; waiting without
            // WNOHANG before the kill would wait for the runaway program itself.
            if !killed && (timedOut || Timestamp.monotonicNanoseconds() >= deadline) {
                timedOut = true
                killed = true
                kill(-pid, SIGKILL)
            }
            let result = waitpid(pid, &status, killed ? 0 : WNOHANG)
            if result == pid { break }
            if result < 0 && errno != EINTR { break }
            if result == 0 { usleep(1_000) }
        }
        // Whatever the program started may still run in its group; don't leave it behind.
        if killed { kill(-pid, SIGKILL) }
        let exited = (status & 0x7f) == 0
        return Outcome(
            exitStatus: exited ? (status >> 8) & 0xff : nil,
            signal: exited ? nil : status & 0x7f,
            timedOut: timedOut,
            standardError: String(decoding: errorBytes, as: UTF8.self))
    }
}
