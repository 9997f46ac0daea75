/// Hexadecimal digits both ways, without Foundation: percent-escapes (`%5B`), JSON's `\u00XX`,
/// MAC headers, log escapes and hashed keys all read or write them here.
package enum Hex {
    /// The lowercase digits, by value.
    package static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// The value of each byte as a hex digit (either case), 0xFF for a byte that is not one:
    /// two table loads instead of two three-way range tests per `%XX` in the decoder's loop
    /// (most of a form name's bytes are `%5B`/`%5D`).
    package static let values: [UInt8] = (0...255).map { byte in
        switch UInt8(byte) {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt8(byte) - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt8(byte) - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt8(byte) - UInt8(ascii: "A") + 10
        default: return 0xFF
        }
    }

    /// The value of one hex digit, or nil.
    @inline(__always)
    package static func value(_ byte: UInt8) -> UInt8? {
        let value = values[Int(byte)]
        return value == 0xFF ? nil : value
    }

    /// The bytes `text` spells in hex (either case), or nil when it isn't an even run of hex digits.
    package static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let characters = Array(text.utf8)
        guard characters.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(characters.count / 2)
        var index = 0
        while index < characters.count {
            guard let high = value(characters[index]), let low = value(characters[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    /// `bytes` as lowercase hex, written straight into the String's storage (a digest's
    /// hex is on the request path: the deduplication key).
    package static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { output in
            var position = 0
            for byte in bytes {
                output[position] = digits[Int(byte >> 4)]
                output[position + 1] = digits[Int(byte & 0xF)]
                position += 2
            }
            return position
        }
    }

    /// `bytes` as lowercase hex.
    package static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Array(bytes).withUnsafeBytes { encode($0) }
    }
}
