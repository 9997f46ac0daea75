#if canImport(Glibc)
import Glibc
#endif

/// An exclusive `flock(2)` on a file, taken without waiting: held by one open file
/// description at a time, so it is exclusive between threads (each opens the file itself)
/// and between processes alike. Released by `unlock`, or when the process ends.
/// The one file that calls `flock`.
package final class FileLock: Sendable {
    private let descriptor: Int32

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// The lock on `path` (created 0600 if missing), or nil when another holder has it.
    package static func tryLock(_ path: String) throws(SystemError) -> FileLock? {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw SystemError("open", path) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(descriptor)
            if code == EWOULDBLOCK { return nil }
            throw SystemError("flock", path, code: code)
        }
        return FileLock(descriptor: descriptor)
    }

    /// Releases the lock.
    package func unlock() {
        close(descriptor)
    }
}
