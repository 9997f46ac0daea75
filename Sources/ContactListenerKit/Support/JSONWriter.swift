/// A fast, allocation-light JSON writer that keeps keys in the order they are written.
///
/// Strings are escaped as PHP's `json_encode($v, JSON_UNESCAPED_SLASHES |
/// JSON_UNESCAPED_UNICODE)` escapes them (U+2028/U+2029 included), so `decode --raw`
/// output compares byte for byte with PHP's.
public struct JSONWriter: Sendable {
    /// The UTF-8 output written so far.
    public var bytes: [UInt8]
    private var needsComma = false

    /// Creates a writer with room for `capacity` bytes.
    public init(capacity: Int = 1024) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// The output as a `String`.
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    /// Opens an object (`{`).
    public mutating func beginObject() { separate(); bytes.append(UInt8(ascii: "{")); needsComma = false }
    /// Closes an object (`}`).
    public mutating func endObject() { bytes.append(UInt8(ascii: "}")); needsComma = true }
    /// Opens an array (`[`).
    public mutating func beginArray() { separate(); bytes.append(UInt8(ascii: "[")); needsComma = false }
    /// Closes an array (`]`).
    public mutating func endArray() { bytes.append(UInt8(ascii: "]")); needsComma = true }

    /// Writes an object key; the next value written belongs to it.
    public mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// Writes a string value.
    public mutating func string(_ value: String) { separate(); appendQuoted(value); needsComma = true }

    /// Writes a string value, or `null` for nil.
    public mutating func optionalString(_ value: String?) {
        if let value { string(value) } else { raw("null") }
    }

    /// Writes a boolean value.
    public mutating func bool(_ value: Bool) { raw(value ? "true" : "false") }

    /// Writes an integer value.
    public mutating func int(_ value: Int) { raw(String(value)) }

    /// Writes `text` verbatim as one value (a number, `null`, or pre-rendered JSON).
    public mutating func raw(_ text: String) {
        separate()
        bytes.append(contentsOf: text.utf8)
        needsComma = true
    }

    /// Writes `"key":"value"` for a non-nil value, and nothing for nil.
    public mutating func member(_ name: String, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private mutating func appendQuoted(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            var runStart = 0
            var position = 0
            let count = utf8.count
            while position < count {
                let byte = utf8[position]
                // The common case first: a byte that needs no escaping.
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
                case 0xE2 where position + 2 < count && utf8[position + 1] == 0x80
                    && (utf8[position + 2] == 0xA8 || utf8[position + 2] == 0xA9):
                    escape = UInt8(ascii: "u")  // U+2028 / U+2029 break JavaScript parsers
                    width = 3
                default: escape = nil
                }
                guard let escape else { position += 1; continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<position]))
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(escape)
                if escape == UInt8(ascii: "u") {
                    let scalar: Int = width == 3 ? (utf8[position + 2] == 0xA8 ? 0x2028 : 0x2029) : Int(byte)
                    for shift in stride(from: 12, through: 0, by: -4) {
                        bytes.append(JSONWriter.hexDigits[(scalar >> shift) & 0xF])
                    }
                }
                position += width
                runStart = position
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<count]))
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
