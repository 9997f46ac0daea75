/// Base64 (RFC 4648) decoding without Foundation, which the request path doesn't link.
import ContactListenerKit
enum Base64 {
    /// The bytes `text` encodes, or nil when it isn't base64.
    ///
    /// Accepts the standard and the URL-safe alphabets, with or without `=` padding,
    /// because senders differ; rejects whitespace, stray characters and misplaced padding.
    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let characters = Array(text.utf8)
        var end = characters.count
        var padding = 0
        while end > 0, characters[end - 1] == UInt8(ascii: "=") {
            end -= 1
            padding += 1
        }
        // Padding is at most "==" and, when present, completes a 4-character group.
        if padding > 2 || (padding > 0 && characters.count % 4 != 0) { return nil }
        // A single leftover character carries only 6 bits: never a whole byte.
        if end % 4 == 1 { return nil }

        var bytes: [UInt8] = []
        bytes.reserveCapacity(end * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for character in characters[..<end] {
            guard let value = sextet(character) else { return nil }
            accumulator = (accumulator << 6) | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return bytes
    }

    /// The 6-bit value of one base64 character, or nil.
    private static func sextet(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"), UInt8(ascii: "-"): return 62
        case UInt8(ascii: "/"), UInt8(ascii: "_"): return 63
        default: return nil
        }
    }
}
