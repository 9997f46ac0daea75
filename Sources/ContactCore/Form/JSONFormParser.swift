/// The JSON grammar (RFC 8259) over a body's bytes, as PHP's `json_decode($body, true)`
/// reads it: `parseValue` builds the form tree, counting leaves and depth against the
/// limits; the string, literal and number readers serve the stored-event reader too.
struct JSONFormParser {
    let input: UnsafeBufferPointer<UInt8>
    let limits: FormLimits
    /// The deepest nesting read, counted as `FormLimits.maxDepth` counts it.
    let maxDepth: Int
    /// The offset of the next byte to read.
    var position = 0
    var leaves = 0

    /// A parser at the start of `input`.
    init(input: UnsafeBufferPointer<UInt8>, limits: FormLimits, maxDepth: Int) {
        self.input = input
        self.limits = limits
        self.maxDepth = maxDepth
    }

    func failure(_ reason: String) -> FormError { .invalidJSON(offset: position, reason: reason) }

    mutating func skipWhitespace() {
        while position < input.count {
            switch input[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    mutating func expect(_ byte: UInt8) throws(FormError) {
        skipWhitespace()
        guard position < input.count, input[position] == byte else {
            throw failure("expected '\(Character(Unicode.Scalar(byte)))'")
        }
        position += 1
    }

    mutating func parseValue(depth: Int, path: String) throws(FormError) -> FormValue {
        skipWhitespace()
        guard position < input.count else { throw failure("unexpected end of input") }
        switch input[position] {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            // The top-level container is the form's root, so `maxDepth` more levels are
            // allowed below it, as for `a[x]…` names: 64 means 65 nested containers, which
            // json_decode accepts with $depth 66 (it counts the leaves' level too).
            if depth + 1 > maxDepth + 1 { throw .tooDeep(name: path, limit: maxDepth) }
            return .array(try parseContainer(depth: depth + 1, path: path))
        case UInt8(ascii: "\""):
            try countLeaf()
            let text = try parseString()
            if text.utf8.count > limits.maxValueBytes { throw .valueTooLong(name: path, limit: limits.maxValueBytes) }
            return .string(text)
        case UInt8(ascii: "t"): try literal("true"); try countLeaf(); return .string("true")
        case UInt8(ascii: "f"): try literal("false"); try countLeaf(); return .string("false")
        case UInt8(ascii: "n"): try literal("null"); try countLeaf(); return .string("")
        default:
            try countLeaf()
            return .string(try parseNumber())
        }
    }

    mutating func countLeaf() throws(FormError) {
        leaves += 1
        if leaves > limits.maxVars { throw .tooManyVariables(limit: limits.maxVars) }
    }

    mutating func parseContainer(depth: Int, path: String) throws(FormError) -> FormArray {
        let isObject = input[position] == UInt8(ascii: "{")
        let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
        position += 1
        var array = FormArray()
        skipWhitespace()
        if position < input.count, input[position] == close {
            position += 1
            return array
        }
        while true {
            skipWhitespace()
            if isObject {
                guard position < input.count, input[position] == UInt8(ascii: "\"") else {
                    throw failure("expected a string key")
                }
                let name = try parseString()
                if name.utf8.count > limits.maxKeyBytes {
                    throw .keyTooLong(prefix: String(name.prefix(32)), limit: limits.maxKeyBytes)
                }
                try expect(UInt8(ascii: ":"))
                let childPath = path.isEmpty ? name : "\(path)[\(name)]"
                array[FormKey(name)] = try parseValue(depth: depth, path: childPath)
            } else {
                let childPath = "\(path)[\(array.count)]"
                array.append(try parseValue(depth: depth, path: childPath))
            }
            skipWhitespace()
            guard position < input.count else { throw failure("unexpected end of input") }
            if input[position] == UInt8(ascii: ",") { position += 1; continue }
            if input[position] == close { position += 1; return array }
            throw failure("expected ',' or '\(Character(Unicode.Scalar(close)))'")
        }
    }

    mutating func literal(_ word: StaticString) throws(FormError) {
        let count = word.utf8CodeUnitCount
        guard position + count <= input.count else { throw failure("unexpected end of input") }
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: count)
        for offset in 0..<count where input[position + offset] != expected[offset] {
            throw failure("invalid literal")
        }
        position += count
    }

    mutating func parseNumber() throws(FormError) -> String {
        let start = position
        let scanned = JSONNumber.scan(input, from: position)
        position = scanned.end
        if let problem = scanned.problem { throw failure(problem) }
        return String(decoding: UnsafeBufferPointer(rebasing: input[start..<position]), as: UTF8.self)
    }

    mutating func parseString() throws(FormError) -> String {
        position += 1  // opening quote
        let start = position
        // Fast path: no escapes.
        while position < input.count {
            let byte = input[position]
            if byte == UInt8(ascii: "\"") {
                position += 1
                return try validated(UnsafeBufferPointer(rebasing: input[start..<position - 1]), at: start)
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw failure("control character in string") }
            position += 1
        }
        var output = Array(input[start..<position])
        while position < input.count {
            let byte = input[position]
            if byte == UInt8(ascii: "\"") {
                position += 1
                return try output.withUnsafeBufferPointer { (bytes) throws(FormError) in try validated(bytes, at: start) }
            }
            if byte < 0x20 { throw failure("control character in string") }
            if byte != UInt8(ascii: "\\") {
                output.append(byte)
                position += 1
                continue
            }
            position += 1
            guard position < input.count else { break }
            let escaped = input[position]
            position += 1
            switch escaped {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(escaped)
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                // json_decode refuses a surrogate that is not half of a high+low pair
                // (JSON_ERROR_UTF16) rather than substituting U+FFFD.
                var scalar = try hex4()
                if (0xDC00..<0xE000).contains(scalar) { throw failure("single unpaired UTF-16 surrogate") }
                if (0xD800..<0xDC00).contains(scalar) {
                    guard position + 1 < input.count,
                          input[position] == UInt8(ascii: "\\"), input[position + 1] == UInt8(ascii: "u") else {
                        throw failure("single unpaired UTF-16 surrogate")
                    }
                    position += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw failure("single unpaired UTF-16 surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let character = Unicode.Scalar(scalar) else { throw failure("invalid \\u escape") }
                output.append(contentsOf: String(character).utf8)
            default:
                throw failure("invalid escape")
            }
        }
        throw failure("unterminated string")
    }

    /// The string's bytes, which must be valid UTF-8: json_decode refuses malformed
    /// UTF-8 (JSON_ERROR_UTF8), where a form body's bytes are kept and repaired.
    func validated(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) throws(FormError) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .invalidJSON(offset: offset, reason: "malformed UTF-8 in string")
        }
        return text
    }

    mutating func hex4() throws(FormError) -> UInt32 {
        guard position + 4 <= input.count else { throw failure("invalid \\u escape") }
        var value: UInt32 = 0
        for offset in 0..<4 {
            guard let digit = Hex.value(input[position + offset]) else {
                throw failure("invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
        }
        position += 4
        return value
    }
}
