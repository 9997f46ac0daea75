/// Whether bytes are well-formed UTF-8 (RFC 3629 and the Unicode Standard's Table 3-7: no
/// overlong forms, no surrogates, nothing above U+10FFFF), exactly the bytes that
/// `String(decoding:as: UTF8.self)` keeps unchanged.
///
/// The form arena checks every key and value it stores, and repairs only those that fail,
/// so the common case (ASCII, or valid accents) costs a scan 8 bytes at a time.
package enum UTF8Validation {
    /// True when `bytes` are well-formed UTF-8.
    ///
    /// Inline up to the first byte above 0x7F: most keys are short and ASCII, and the call
    /// would cost more than the check.
    @inline(__always)
    package static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var position = 0
        // In bounds: a word is read only while 8 bytes remain.
        while count - position >= 8,
              UnsafeRawPointer(base + position).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
            position += 8
        }
        while position < count, base[position] < 0x80 { position += 1 }
        return position == count || isValid(base, from: position, count: count)
    }

    /// `isValid` from `position` on (a byte above 0x7F).
    private static func isValid(_ base: UnsafePointer<UInt8>, from start: Int, count: Int) -> Bool {
        var position = start
        while position < count {
            // ASCII runs, 8 bytes at a time.
            while position + 8 <= count,
                  UnsafeRawPointer(base + position).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                position += 8
            }
            guard position < count else { return true }
            let lead = base[position]
            if lead < 0x80 {
                position += 1
                continue
            }
            let width: Int
            var lower: UInt8 = 0x80
            var upper: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: width = 2
            case 0xE0: width = 3; lower = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: width = 3
            case 0xED: width = 3; upper = 0x9F
            case 0xF0: width = 4; lower = 0x90
            case 0xF1...0xF3: width = 4
            case 0xF4: width = 4; upper = 0x8F
            default: return false
            }
            guard position + width <= count else { return false }
            let second = base[position + 1]
            guard second >= lower, second <= upper else { return false }
            var next = position + 2
            while next < position + width {
                guard base[next] & 0xC0 == 0x80 else { return false }
                next += 1
            }
            position += width
        }
        return true
    }
}
