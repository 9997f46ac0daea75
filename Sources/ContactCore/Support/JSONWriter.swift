/// A fast, allocation-light JSON writer that keeps keys in the order they are written.
///
/// Strings are escaped as PHP's `json_encode($v, JSON_UNESCAPED_SLASHES |
/// JSON_UNESCAPED_UNICODE)` escapes them (U+2028/U+2029 included), so `decode --raw`
/// output compares byte for byte with PHP's.
package struct JSONWriter: Sendable {
    /// The UTF-8 output written so far.
    package var bytes: [UInt8]
    private var needsComma = false

    /// Creates a writer with room for `capacity` bytes.
    package init(capacity: Int = 1024) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// The output as a `String`.
    package var string: String { String(decoding: bytes, as: UTF8.self) }

    /// Opens an object (`{`).
    package mutating func beginObject() { separate(); bytes.append(UInt8(ascii: "{")); needsComma = false }
    /// Closes an object (`}`).
    package mutating func endObject() { bytes.append(UInt8(ascii: "}")); needsComma = true }
    /// Opens an array (`[`).
    package mutating func beginArray() { separate(); bytes.append(UInt8(ascii: "[")); needsComma = false }
    /// Closes an array (`]`).
    package mutating func endArray() { bytes.append(UInt8(ascii: "]")); needsComma = true }

    /// Writes an object key; the next value written belongs to it.
    package mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// Writes a string value.
    package mutating func string(_ value: String) { separate(); appendQuoted(value); needsComma = true }

    /// Writes a string value from its UTF-8 bytes (valid UTF-8: the form arena's).
    package mutating func string(bytes utf8: UnsafeBufferPointer<UInt8>) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        appendEscaped(utf8)
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// Writes an object key from its UTF-8 bytes (valid UTF-8: the form arena's).
    package mutating func key(bytes utf8: UnsafeBufferPointer<UInt8>) {
        string(bytes: utf8)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// Writes an object key that needs no escaping, from its bytes (see `plainKey`).
    package mutating func key(plain name: UnsafeBufferPointer<UInt8>) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: name)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// Writes an integer object key (`"42":`).
    package mutating func key(int value: Int) { key(String(value)) }

    /// Writes `null`.
    package mutating func null() { raw("null") }

    /// Writes a string value, or `null` for nil.
    package mutating func optionalString(_ value: String?) {
        if let value { string(value) } else { null() }
    }

    /// Writes a boolean value.
    package mutating func bool(_ value: Bool) { raw(value ? "true" : "false") }

    /// Writes an integer value.
    package mutating func int(_ value: Int) { raw(String(value)) }

    /// Writes `text` verbatim as one value (a number, `null`, or pre-rendered JSON).
    package mutating func raw(_ text: String) {
        separate()
        bytes.append(contentsOf: text.utf8)
        needsComma = true
    }

    /// Writes `"key":"value"` for a non-nil value, and nothing for nil.
    package mutating func member(_ name: String, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    /// Writes an object key that needs no escaping (a literal of this program: printable
    /// ASCII without `"` or `\\`), copying it as it is.
    package mutating func plainKey(_ name: String) {
        var name = name
        name.withUTF8 { key(plain: $0) }
    }

    /// `value` as a JSON string literal, quotes included, outside any writer's structure
    /// (a text body template places it between its own text).
    package static func quoted(_ value: String) -> [UInt8] {
        var writer = JSONWriter(capacity: value.utf8.count + 2)
        writer.appendQuoted(value)
        return writer.bytes
    }

    /// `value` escaped as the inside of a JSON string literal, without quotes: for a value
    /// that a text body template places within a string literal of its own.
    package static func escaped(_ value: String) -> [UInt8] {
        var writer = JSONWriter(capacity: value.utf8.count)
        var value = value
        value.withUTF8 { utf8 in writer.appendEscaped(utf8) }
        return writer.bytes
    }

    private mutating func appendQuoted(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in appendEscaped(utf8) }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Copies `utf8`, escaping what `json_encode` escapes. Runs of bytes that need nothing
    /// are found 8 at a time and copied at once: most of an event's bytes are such runs.
    private mutating func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        guard let base = utf8.baseAddress else { return }
        let count = utf8.count
        var runStart = 0
        var position = 0
        while position < count {
            while position + 8 <= count,
                  !Self.mayNeedEscape(UnsafeRawPointer(base + position).loadUnaligned(as: UInt64.self)) {
                position += 8
            }
            if position >= count { break }
            let byte = base[position]
            if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") && byte != 0xE2 {
                position += 1
                continue
            }
            let escape: UInt8?
            var width = 1
            switch byte {
            case UInt8(ascii: "\""): escape = UInt8(ascii: "\"")
            case UInt8(ascii: "\\"): escape = UInt8(ascii: "\\")
            case 0x08: escape = UInt8(ascii: "b")
            case 0x0C: escape = UInt8(ascii: "f")
            case 0x0A: escape = UInt8(ascii: "n")
            case 0x0D: escape = UInt8(ascii: "r")
            case 0x09: escape = UInt8(ascii: "t")
            case 0x00..<0x20: escape = UInt8(ascii: "u")
            case 0xE2 where position + 2 < count && base[position + 1] == 0x80
                && (base[position + 2] == 0xA8 || base[position + 2] == 0xA9):
                escape = UInt8(ascii: "u")  // U+2028 / U+2029 break JavaScript parsers
                width = 3
            default: escape = nil
            }
            guard let escape else { position += 1; continue }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<position]))
            bytes.append(UInt8(ascii: "\\"))
            bytes.append(escape)
            if escape == UInt8(ascii: "u") {
                let scalar: Int = width == 3 ? (base[position + 2] == 0xA8 ? 0x2028 : 0x2029) : Int(byte)
                for shift in stride(from: 12, through: 0, by: -4) {
                    bytes.append(Hex.digits[(scalar >> shift) & 0xF])
                }
            }
            position += width
            runStart = position
        }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<count]))
    }

    /// True when one of the 8 bytes in `word` may need escaping: below 0x20, `"`, `\\`, or
    /// 0xE2 (the lead byte of U+2028/U+2029). Exact for "none" (the bit tricks of
    /// graphics.stanford.edu/~seander/bithacks.html, `hasless` and `haszero`).
    @inline(__always)
    static func mayNeedEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let control = (word &- ones &* 0x20) & ~word & highs
        @inline(__always) func has(_ byte: UInt64) -> UInt64 {
            let folded = word ^ (ones &* byte)
            return (folded &- ones) & ~folded & highs
        }
        return (control | has(0x22) | has(0x5C) | has(0xE2)) != 0
    }
}
