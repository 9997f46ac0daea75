#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A key of a decoded form array, normalized the way PHP's symbol tables normalize keys.
///
/// PHP (`zend_symtable_update`, `_zend_handle_numeric_str_ex`) stores a key that is a
/// canonical decimal integer within `Int64` as an integer key, so `a[7]` and `a[07]`
/// differ while `a[7]` and a later `a[]` interact through the next free index.
public enum FormKey: Hashable, Sendable, CustomStringConvertible {
    /// An integer key: `"0"`, `"42"`, `"-5"`.
    case int(Int)
    /// Any other key, kept as sent (invalid UTF-8 repaired to U+FFFD).
    case string(String)

    /// Normalizes `text` as PHP does: a canonical integer becomes `.int`.
    public init(_ text: String) {
        if let number = FormKey.canonicalInteger(text.utf8) {
            self = .int(number)
        } else {
            self = .string(text)
        }
    }

    /// Normalizes raw key bytes as PHP does.
    public init<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        if let number = FormKey.canonicalInteger(bytes) {
            self = .int(number)
        } else {
            self = .string(String(decoding: bytes, as: UTF8.self))
        }
    }

    /// True when `bytes` normalize to this key, without building a String (the builder
    /// compares every variable's prefix with the open path this way).
    func matches(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        switch self {
        case .int(let number):
            return FormKey.canonicalInteger(bytes) == number
        case .string(var text):
            // A String's bytes equal raw bytes only when those were valid UTF-8 and not a
            // canonical integer (it was made from them); otherwise the builder looks it up.
            return text.withUTF8 { utf8 in
                guard utf8.count == bytes.count else { return false }
                guard let lhs = utf8.baseAddress, let rhs = bytes.baseAddress else { return true }  // both empty
                return memcmp(lhs, rhs, bytes.count) == 0
            }
        }
    }

    /// The key as PHP would print it.
    public var description: String {
        switch self {
        case .int(let number): return String(number)
        case .string(let text): return text
        }
    }

    /// PHP's `_zend_handle_numeric_str_ex`: optional `-`, no leading zero (so not `-0`),
    /// at most 19 digits, and within `Int64`.
    static func canonicalInteger<Bytes: Collection>(_ bytes: Bytes) -> Int? where Bytes.Element == UInt8 {
        var iterator = bytes.makeIterator()
        guard var byte = iterator.next() else { return nil }
        let negative = byte == UInt8(ascii: "-")
        if negative {
            guard let next = iterator.next() else { return nil }
            byte = next
        }
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
        if byte == UInt8(ascii: "0") {
            // "0" alone is an integer; "00", "01" and "-0" are strings.
            return (!negative && bytes.count == 1) ? 0 : nil
        }
        var magnitude = UInt64(byte &- UInt8(ascii: "0"))
        var digits = 1
        while let next = iterator.next() {
            guard next >= UInt8(ascii: "0"), next <= UInt8(ascii: "9") else { return nil }
            digits += 1
            if digits > 19 { return nil }
            magnitude = magnitude &* 10 &+ UInt64(next &- UInt8(ascii: "0"))
        }
        if negative {
            guard magnitude - 1 <= UInt64(Int.max) else { return nil }
            return magnitude == UInt64(Int.max) + 1 ? Int.min : -Int(magnitude)
        }
        guard magnitude <= UInt64(Int.max) else { return nil }
        return Int(magnitude)
    }
}
