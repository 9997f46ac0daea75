/// Encodes a tree the way PHP's `http_build_query` does (RFC 1738 `urlencode`, `[` and `]`
/// encoded in keys, empty arrays left out), so `send-test` sends exactly what the platform
/// would.
package enum PHPQueryEncoder {
    /// `a=1&b%5Bc%5D=2` for `["a": "1", "b": ["c": "2"]]`.
    package static func encode(_ array: FormArray) -> String {
        var pairs: [String] = []
        append(array, prefix: nil, to: &pairs)
        return pairs.joined(separator: "&")
    }

    private static func append(_ array: FormArray, prefix: String?, to pairs: inout [String]) {
        for (key, value) in array.entries {
            let name = prefix.map { "\($0)%5B\(urlencode(key.description))%5D" } ?? urlencode(key.description)
            switch value {
            case .string(let text): pairs.append("\(name)=\(urlencode(text))")
            case .array(let nested): append(nested, prefix: name, to: &pairs)
            }
        }
    }

    /// PHP's `urlencode`: letters, digits and `-_.` stay, a space is `+`, the rest `%XX`.
    package static func urlencode(_ text: String) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " "):
                output += "+"
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                output += byte < 16 ? "%0\(hex)" : "%\(hex)"
            }
        }
        return output
    }
}
