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
    /// A symbolic link, or a file that is not a regular file of this user, is refused: a
    /// lock file somebody else made could be held by them.
    package static func tryLock(_ path: String) throws(SystemError) -> FileLock? {
        let descriptor = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0o600)
        guard descriptor >= 0 else { throw SystemError("open", path) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_uid == geteuid() else {
            close(descriptor)
            throw SystemError("open (not a regular file of this user)", path, code: EPERM)
        }
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
