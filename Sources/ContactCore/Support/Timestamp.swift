#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Wall-clock timestamps without Foundation's date formatters (they are slow per request).
package enum Timestamp {
    /// Now as RFC 3339 UTC with milliseconds: `2026-11-29T08:41:14.123Z`.
    package static func now() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return format(seconds: Int(spec.tv_sec), milliseconds: Int(spec.tv_nsec) / 1_000_000)
    }

    /// Formats a Unix time as RFC 3339 UTC with milliseconds.
    ///
    /// The 24 bytes are written in place, without padding and interpolating seven numbers
    /// through String (it runs twice per request).
    package static func format(seconds: Int, milliseconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let year = Int(parts.tm_year) + 1900
        guard (0...9999).contains(year), (0...999).contains(milliseconds) else {
            return paddedFormat(parts, milliseconds: milliseconds)
        }
        return String(unsafeUninitializedCapacity: 24) { buffer in
            func put(_ value: Int, width: Int, at offset: Int, then separator: Unicode.Scalar) {
                var rest = value
                for position in stride(from: offset + width - 1, through: offset, by: -1) {
                    buffer[position] = UInt8(ascii: "0") + UInt8(rest % 10)
                    rest /= 10
                }
                buffer[offset + width] = UInt8(ascii: separator)
            }
            put(year, width: 4, at: 0, then: "-")
            put(Int(parts.tm_mon) + 1, width: 2, at: 5, then: "-")
            put(Int(parts.tm_mday), width: 2, at: 8, then: "T")
            put(Int(parts.tm_hour), width: 2, at: 11, then: ":")
            put(Int(parts.tm_min), width: 2, at: 14, then: ":")
            put(Int(parts.tm_sec), width: 2, at: 17, then: ".")
            put(milliseconds, width: 3, at: 20, then: "Z")
            return 24
        }
    }

    /// The same for a year outside 0–9999 (only from a corrupt stored time).
    private static func paddedFormat(_ parts: tm, milliseconds: Int) -> String {
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(milliseconds), 3))Z"
    }

    /// Wall-clock nanoseconds since the Unix epoch.
    package static func unixNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    /// Formats Unix milliseconds as RFC 3339 UTC.
    package static func format(milliseconds: Int64) -> String {
        format(seconds: Int(milliseconds / 1_000), milliseconds: Int(milliseconds % 1_000))
    }

    /// A monotonic clock reading in nanoseconds, for measuring durations.
    package static func monotonicNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
