/// RFC 8259 §6's number grammar, the one reader of it: the JSON decoder scans numbers with
/// it, and body templates check a YAML scalar with it before writing it as a JSON number.
///
///     number = [ "-" ] int [ frac ] [ exp ];  int = "0" / ( digit1-9 *DIGIT )
///     frac = "." 1*DIGIT;  exp = ( "e" / "E" ) [ "-" / "+" ] 1*DIGIT
package enum JSONNumber {
    /// Scans the number starting at `start`: where it ends, and what is wrong if it breaks the
    /// grammar (then `end` is where the scan stopped).
    static func scan(_ input: UnsafeBufferPointer<UInt8>, from start: Int) -> (end: Int, problem: String?) {
        var position = start
        func digits() -> Int {
            let begin = position
            while position < input.count, input[position] >= UInt8(ascii: "0"), input[position] <= UInt8(ascii: "9") { position += 1 }
            return position - begin
        }
        if position < input.count, input[position] == UInt8(ascii: "-") { position += 1 }
        let integerStart = position
        let integerDigits = digits()
        guard integerDigits > 0 else { return (position, "invalid value") }
        if integerDigits > 1, input[integerStart] == UInt8(ascii: "0") { return (position, "leading zero in number") }
        if position < input.count, input[position] == UInt8(ascii: ".") {
            position += 1
            guard digits() > 0 else { return (position, "digit expected after '.'") }
        }
        if position < input.count, input[position] == UInt8(ascii: "e") || input[position] == UInt8(ascii: "E") {
            position += 1
            if position < input.count, input[position] == UInt8(ascii: "+") || input[position] == UInt8(ascii: "-") { position += 1 }
            guard digits() > 0 else { return (position, "digit expected in exponent") }
        }
        return (position, nil)
    }

    /// True when all of `text` is one number in the grammar.
    package static func isNumber(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            let scanned = scan(bytes, from: 0)
            return scanned.problem == nil && scanned.end == bytes.count
        }
    }
}
