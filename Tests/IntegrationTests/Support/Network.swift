import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Loopback TCP helpers: free ports and readiness probes.
enum Network {
    /// A loopback TCP port that was free a moment ago (bind port 0, read it, close).
    /// Another process may take it before we use it, so starters retry on "in use".
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw TestFailure("bind 127.0.0.1:0: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw TestFailure("getsockname: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A socket listening on a loopback port, held open to make that port busy.
    static func occupyPort() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(String(cString: strerror(errno)))") }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard bound == 0, named == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw TestFailure("can't occupy a port: \(String(cString: strerror(errno)))")
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// True when `pid` or one of its descendants holds a socket listening on `port` (read
    /// from /proc/net/tcp{,6} and the processes' descriptors). A server that lost the race
    /// for a free port to another test's server would otherwise look ready (a connect to
    /// the port reaching the other one), and the test would talk to the wrong server.
    static func isListening(port: Int, processTree pid: Int32) -> Bool {
        let inodes = listeningSocketInodes(port: port)
        guard !inodes.isEmpty else { return false }
        for process in [pid] + ProcessTable().descendants(of: pid).map(\.pid) {
            let folder = "/proc/\(process)/fd"
            for fd in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
                guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(folder)/\(fd)"),
                      target.hasPrefix("socket:["), target.hasSuffix("]") else { continue }
                if inodes.contains(String(target.dropFirst("socket:[".count).dropLast())) { return true }
            }
        }
        return false
    }

    /// The inodes of the sockets in state LISTEN (0A) on `port`, any address. The tables
    /// are read to their end: with many sockets open they span many pages.
    static func listeningSocketInodes(port: Int) -> Set<String> {
        let portSuffix = String(format: ":%04X", port)
        var inodes: Set<String> = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            // "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …"
            for line in readText(table).split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, fields[1].hasSuffix(portSuffix), fields[3] == "0A" else { continue }
                inodes.insert(String(fields[9]))
            }
        }
        return inodes
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        return address
    }

    /// True when the tests run as root (CI does): then nginx's workers run as `nobody`,
    /// and the unix socket must belong to group `nogroup` for them to connect.
    static var isRoot: Bool { geteuid() == 0 }
}
