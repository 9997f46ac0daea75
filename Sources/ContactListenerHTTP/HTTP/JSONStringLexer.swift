/// Follows JSON text byte by byte just far enough to tell, at any point, whether the next
/// byte would be inside a string literal, and whether an escape there is unfinished
/// (RFC 8259 §7: `\` and one character, or `\u` and four hex digits).
import ContactListenerKit
struct JSONStringLexer {
    /// Where the lexer is.
    enum State: Equatable {
        /// Outside any string: a value, a key or punctuation comes next.
        case value
        /// Inside a string literal, between characters.
        case string
        /// Inside an escape: after `\`, or `remaining` hex digits short of a `\uXXXX`.
        case escape(remaining: Int)
    }

    /// The state after the bytes seen so far.
    private(set) var state = State.value

    /// Takes the next byte of the text.
    mutating func advance(_ byte: UInt8) {
        switch state {
        case .value:
            if byte == UInt8(ascii: "\"") { state = .string }
        case .string:
            if byte == UInt8(ascii: "\"") { state = .value } else if byte == UInt8(ascii: "\\") { state = .escape(remaining: 0) }
        case .escape(remaining: 0):
            state = byte == UInt8(ascii: "u") ? .escape(remaining: 4) : .string
        case .escape(let remaining):
            state = remaining == 1 ? .string : .escape(remaining: remaining - 1)
        }
    }
}
