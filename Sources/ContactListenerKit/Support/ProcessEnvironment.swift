#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process environment and the executable's location, read without Foundation
/// (CGI mode starts per request, so start-up work must stay small).
public enum ProcessEnvironment {
    /// The environment as a dictionary.
    public static var current: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }

    /// True when the binary was linked with `-static-executable` (it has no dynamic loader).
    public static var isStaticExecutable: Bool {
        guard let maps = try? FileSystem.readText("/proc/self/maps") else { return false }
        return !maps.contains("/ld-linux")
    }

    /// The absolute path of the running executable (`/proc/self/exe`), if it can be read.
    public static var executablePath: String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
