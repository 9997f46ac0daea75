import ContactListenerKit
import ListenerSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The FastCGI listening socket: opened by us (instead of libfcgi's `FCGX_OpenSocket`,
/// which calls `exit()` on any failure and follows the umask), or inherited on fd 0
/// (spawn-fcgi, mod_fcgid) or fd 3 (systemd socket activation).
package enum ListenSocket {
    /// Why the socket could not be opened, with what to do about it.
    package struct OpenError: Error, CustomStringConvertible {
        /// The one-line explanation.
        package var description: String
    }

    /// True when `fd` is a listening socket (`SO_ACCEPTCONN`). A connected socket, as
    /// mod_cgid gives a CGI script on stdin, is not (docs/libfcgi.md).
    package static func isListening(_ fd: Int32) -> Bool {
        var accepting: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) == 0 && accepting != 0
    }

    /// The socket handed over by the process that started us, if any: systemd's
    /// `LISTEN_FDS` (fd 3, for our pid), else a listening fd 0.
    package static func inherited(environment: [String: String]) -> Int32? {
        if let pid = environment["LISTEN_PID"], Int32(pid) == getpid(),
           let count = environment["LISTEN_FDS"].flatMap({ Int($0) }), count >= 1, isListening(3) {
            return 3
        }
        return isListening(0) ? 0 : nil
    }

    /// Opens and listens on `address`; a unix socket gets `mode` and, if given, `group`.
    package static func open(_ address: ListenAddress, mode: UInt32, group: String?) throws(OpenError) -> Int32 {
        switch address {
        case .unix(let path): return try openUnix(path, mode: mode, group: group)
        case .tcp(let host, let port): return try openTCP(host: host, port: port)
        }
    }

    private static func failure(_ what: String, _ hint: String) -> OpenError {
        OpenError(description: "\(what): \(String(cString: strerror(errno))); \(hint)")
    }

    private static func openUnix(_ path: String, mode: UInt32, group: String?) throws(OpenError) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else {
            throw OpenError(description: "socket path \(path) is longer than \(capacity - 1) bytes; choose a shorter path")
        }
        let directory = FileSystem.directory(of: path)
        guard FileSystem.exists(directory) else {
            throw OpenError(description: "folder \(directory) for the socket \(path) does not exist; create it (mkdir -p \(directory)) or choose another path")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (offset, byte) in path.utf8.enumerated() { buffer[offset] = byte }
        }
        var gid: gid_t? = nil
        if let group {
            guard let entry = getgrnam(group) else {
                throw OpenError(description: "socket_group '\(group)' is not a group on this machine; use the web server's group (www-data, nginx, apache)")
            }
            gid = entry.pointee.gr_gid
        }
        var status = stat()
        if lstat(path, &status) == 0 {
            guard (status.st_mode & S_IFMT) == S_IFSOCK else {
                throw OpenError(description: "\(path) exists and is not a socket; remove it or choose another path")
            }
            if canConnect(&address) {
                throw OpenError(description: "another process is already listening on \(path); stop it first or choose another path")
            }
            unlink(path)  // a stale socket left by a crash
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw failure("socket", "the system is out of file descriptors?") }
        // Bind with a restrictive umask, then set the mode: there is no moment in which
        // the socket is reachable by anyone else.
        let previousMask = umask(0o177)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(previousMask)
        guard bound == 0 else {
            let error = failure("can't bind \(path)", "check that this user may write to \(directory)")
            close(fd)
            throw error
        }
        if let gid, chown(path, uid_t.max, gid) != 0 {
            let error = failure("can't give \(path) to group \(group ?? "")", "run as root or as a member of that group")
            close(fd)
            throw error
        }
        guard chmod(path, mode_t(mode)) == 0 else {
            let error = failure("chmod \(path)", "check the folder's permissions")
            close(fd)
            throw error
        }
        guard listen(fd, 1024) == 0 else {
            let error = failure("listen on \(path)", "")
            close(fd)
            throw error
        }
        return fd
    }

    private static func canConnect(_ address: inout sockaddr_un) -> Bool {
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard probe >= 0 else { return false }
        defer { close(probe) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        } == 0
    }

    private static func openTCP(host: String, port: Int) throws(OpenError) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var results: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &results)
        guard status == 0, let first = results else {
            throw OpenError(description: "can't resolve listen host '\(host)': \(String(cString: gai_strerror(status))); use an IP address like 127.0.0.1")
        }
        defer { freeaddrinfo(results) }
        let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard fd >= 0 else { throw failure("socket", "the system is out of file descriptors?") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            let error = failure("can't bind \(host):\(port)", "is another program using the port? (ss -ltnp)")
            close(fd)
            throw error
        }
        guard listen(fd, 1024) == 0 else {
            let error = failure("listen on \(host):\(port)", "")
            close(fd)
            throw error
        }
        return fd
    }

    /// Connects to the listening socket `fd` and closes at once, waking one thread
    /// blocked in `accept` (used for a graceful stop). Returns false if it can't.
    static func wake(_ fd: Int32) -> Bool {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { return false }
        let client = socket(Int32(storage.ss_family), Int32(SOCK_STREAM.rawValue), 0)
        guard client >= 0 else { return false }
        defer { close(client) }
        if Int32(storage.ss_family) == AF_INET {
            // A socket bound to 0.0.0.0 is reached through loopback.
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    if $0.pointee.sin_addr.s_addr == 0 { $0.pointee.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian }
                }
            }
        }
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) }
        } == 0
    }
}
