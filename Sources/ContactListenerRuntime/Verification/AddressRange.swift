/// A CIDR range (`203.0.113.0/24`, `2001:db8::/32`; a bare address is a single-host
/// range), as used by `verify.allow_from` and `verify.trusted_proxies`.
///
/// IPv4 ranges live in the IPv4-mapped part of the IPv6 space (a /24 is a /120 there),
/// so an IPv4-mapped client address matches them.
import ContactListenerKit
struct AddressRange: Sendable, Hashable, CustomStringConvertible {
    /// The first address of the range.
    let network: IPAddress
    /// The prefix length in the 128-bit space (96 + the IPv4 prefix for IPv4 ranges).
    let prefixLength: Int

    /// Why a CIDR string was refused; phrased for a configuration error.
    enum ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        /// The part before `/` is not an IP address.
        case notAnAddress
        /// The part after `/` is not a number in range.
        case badPrefix(maximum: Int)
        /// Bits below the prefix are set (`203.0.113.5/24`).
        case hostBitsSet(suggestion: String)

        /// The reason, for `ConfigNode.error`.
        var description: String {
            switch self {
            case .notAnAddress:
                return "expected an IP address or CIDR range like 203.0.113.0/24 or 2001:db8::/32"
            case .badPrefix(let maximum):
                return "the prefix length after '/' must be a whole number from 0 to \(maximum)"
            case .hostBitsSet(let suggestion):
                return "bits below the prefix length are set; did you mean \(suggestion)?"
            }
        }
    }

    /// `::/0`: every IPv6 address, and so every IPv4 address in its mapped form
    /// (`allow_from: any`).
    static let everyAddress = AddressRange(network: IPAddress(high: 0, low: 0), prefixLength: 0)

    /// The loopback ranges, 127.0.0.0/8 and ::1 (RFC 1122 §3.2.1.3, RFC 4291 §2.5.3): the
    /// clients accepted when no rule says who may send.
    static let loopback = [
        AddressRange(network: IPAddress(high: 0, low: 0xffff_7f00_0000), prefixLength: 104),
        AddressRange(network: IPAddress(high: 0, low: 1), prefixLength: 128),
    ]

    private init(network: IPAddress, prefixLength: Int) {
        self.network = network
        self.prefixLength = prefixLength
    }

    /// Parses `text`; host bits below the prefix are an error, because `10.1.2.3/8` is
    /// more likely a typo than a deliberate way of writing `10.0.0.0/8`.
    init(_ text: String) throws(ParseError) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { throw .notAnAddress }
        // An IPv4-mapped IPv6 literal with a prefix counts as IPv6 notation.
        let writtenAsIPv4 = address.isIPv4 && !parts[0].contains(":")
        let maximum = writtenAsIPv4 ? 32 : 128
        var length = maximum
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.count <= 3, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                let value = Int(digits), value <= maximum
            else { throw .badPrefix(maximum: maximum) }
            length = value
        }
        let prefixLength = writtenAsIPv4 ? 96 + length : length
        let masked = Self.mask(address, prefixLength: prefixLength)
        if masked != address {
            // Keep the notation the range was written in (`::ffff:10.0.0.0/104` stays IPv6).
            let written = !writtenAsIPv4 && masked.isIPv4 ? "::ffff:\(masked)" : "\(masked)"
            throw .hostBitsSet(suggestion: "\(written)/\(length)")
        }
        self.network = masked
        self.prefixLength = prefixLength
    }

    /// Whether `address` is inside the range.
    func contains(_ address: IPAddress) -> Bool {
        Self.mask(address, prefixLength: prefixLength) == network
    }

    /// The range in CIDR notation.
    var description: String {
        if network.isIPv4 && prefixLength >= 96 { return "\(network)/\(prefixLength - 96)" }
        return "\(network)/\(prefixLength)"
    }

    /// `address` with every bit below `prefixLength` cleared.
    private static func mask(_ address: IPAddress, prefixLength: Int) -> IPAddress {
        // Swift's `<<` yields 0 for shifts of 64 or more, which covers the /0 and /64 edges.
        let highMask: UInt64 = prefixLength >= 64 ? ~0 : ~0 << UInt64(64 - prefixLength)
        let lowMask: UInt64 = prefixLength <= 64 ? 0 : ~0 << UInt64(128 - prefixLength)
        return IPAddress(high: address.high & highMask, low: address.low & lowMask)
    }
}

extension AddressRange {
    /// The ranges under `node`: one string or a list of them, each error naming its element
    /// (`verify.allow_from[1]`).
    static func list(from node: ConfigNode) throws(ConfigurationError) -> [AddressRange] {
        let items = try node.items()
        var ranges: [AddressRange] = []
        for item in items {
            let text = try item.string()
            do {
                ranges.append(try AddressRange(text.trimmingCharacters(in: " \t")))
            } catch {
                throw item.error("'\(text.prefix(64))': \(error)")
            }
        }
        return ranges
    }
}
