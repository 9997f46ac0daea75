#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process environment and the executable's location, read without Foundation
/// (CGI mode starts per request, so start-up work must stay small).
package enum ProcessEnvironment {
    /// The environment as a dictionary (an entry without `=` is skipped; the first `=`
    /// ends the name, as getenv(3) reads it).
    package static var current: [String: String] {
        var count = 0
        while environ[count] != nil { count += 1 }
        var result: [String: String] = [:]
        result.reserveCapacity(count)
        for index in 0..<count {
            guard let entry = environ[index] else { continue }
            // Split on the byte, not a Character: String.firstIndex(of:) runs grapheme
            // breaking over every variable of a CGI request's environment.
            let length = strlen(entry)
            let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(entry).assumingMemoryBound(to: UInt8.self), count: length)
            guard let found = memchr(entry, Int32(UInt8(ascii: "=")), length) else { continue }
            let equals = UnsafeRawPointer(entry).distance(to: UnsafeRawPointer(found))
            result[String(decoding: bytes[..<equals], as: UTF8.self)] = String(decoding: bytes[(equals + 1)...], as: UTF8.self)
        }
        return result
    }

    /// True when the binary was linked with `-static-executable` (it has no dynamic loader).
    package static var isStaticExecutable: Bool {
        guard let maps = try? FileSystem.readText("/proc/self/maps") else { return false }
        return !maps.contains("/ld-linux")
    }

    /// The absolute path of the running executable (`/proc/self/exe`), if it can be read.
    package static var executablePath: String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
