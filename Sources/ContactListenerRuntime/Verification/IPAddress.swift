import ContactListenerKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address, held as 128 bits with IPv4 in its IPv4-mapped form
/// (`::ffff:a.b.c.d`), so `::ffff:192.0.2.1` and `192.0.2.1` are the same address and one
/// range check covers both families.
struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// The upper 64 bits, in network order.
    let high: UInt64
    /// The lower 64 bits, in network order.
    let low: UInt64

    /// Creates an address from its two 64-bit halves.
    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses a literal address (`192.0.2.1`, `2001:db8::1`, `::ffff:192.0.2.1`) with
    /// `inet_pton`; nil for anything else, including host names, ports and zone ids.
    init?(_ text: some StringProtocol) {
        let string = String(text)
        // A NUL would end the C string early and let "192.0.2.1\0junk" pass as 192.0.2.1.
        guard !string.isEmpty, string.utf8.count <= 64, !string.utf8.contains(0) else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, string, &v4) == 1 {
            self.init(high: 0, low: 0xffff_0000_0000 | UInt64(UInt32(bigEndian: v4.s_addr)))
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, string, &v6) == 1 else { return nil }
        let (high, low) = withUnsafeBytes(of: &v6) { raw -> (UInt64, UInt64) in
            var high: UInt64 = 0
            var low: UInt64 = 0
            for index in 0..<8 { high = high << 8 | UInt64(raw[index]) }
            for index in 8..<16 { low = low << 8 | UInt64(raw[index]) }
            return (high, low)
        }
        self.init(high: high, low: low)
    }

    /// Whether this is an IPv4 address (or an IPv4-mapped IPv6 one, which is the same thing here).
    var isIPv4: Bool { high == 0 && low >> 32 == 0xffff }

    /// The address in its usual notation: dotted quad for IPv4, `inet_ntop`'s compressed form for IPv6.
    var description: String {
        if isIPv4 {
            return (0..<4).map { String(UInt8(truncatingIfNeeded: low >> UInt64(24 - 8 * $0))) }.joined(separator: ".")
        }
        var v6 = in6_addr()
        withUnsafeMutableBytes(of: &v6) { raw in
            for index in 0..<8 { raw[index] = UInt8(truncatingIfNeeded: high >> UInt64(56 - 8 * index)) }
            for index in 0..<8 { raw[8 + index] = UInt8(truncatingIfNeeded: low >> UInt64(56 - 8 * index)) }
        }
        var buffer = [CChar](repeating: 0, count: 64)
        guard inet_ntop(AF_INET6, &v6, &buffer, socklen_t(buffer.count)) != nil else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
