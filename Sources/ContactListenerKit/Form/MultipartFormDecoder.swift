/// Decodes `multipart/form-data` bodies with PHP's rules (main/rfc1867.c): each part's
/// `name` goes through the same registration as a URL-encoded name (but is not
/// URL-decoded), and parts with a `filename` are uploads, not form values, so they are skipped.
public struct MultipartFormDecoder: Sendable {
    /// The limits enforced while decoding; every part counts against `maxVars`.
    public var limits: FormLimits
    /// Copy PHP's `.`/space → `_` renaming of top-level names (see `FormBuilder`).
    public var phpNameMangling: Bool

    /// Creates a decoder.
    public init(limits: FormLimits = .default, phpNameMangling: Bool = false) {
        self.limits = limits
        self.phpNameMangling = phpNameMangling
    }

    /// The `boundary` parameter of a `multipart/form-data` content type, unquoted.
    public static func boundary(fromContentType contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2,
                  pair[0].trimmingCharacters(in: " \t").lowercased() == "boundary" else { continue }
            var value = pair[1].trimmingCharacters(in: " \t")
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            return value.isEmpty ? nil : value
        }
        return nil
    }

    /// Decodes `input`, split at `--boundary` delimiter lines.
    public func decode(_ input: UnsafeBufferPointer<UInt8>, boundary: String) throws(FormError) -> FormArray {
        var builder = FormBuilder(limits: limits, phpNameMangling: phpNameMangling)
        let delimiter = Array("--\(boundary)".utf8)
        guard var cursor = Self.find(delimiter, in: input, from: 0) else {
            throw .invalidMultipart(reason: "boundary '\(boundary)' not found")
        }
        while true {
            cursor += delimiter.count
            // "--" after a delimiter closes the body.
            if cursor + 1 < input.count, input[cursor] == UInt8(ascii: "-"), input[cursor + 1] == UInt8(ascii: "-") {
                return builder.root
            }
            guard let headersStart = Self.lineEnd(in: input, from: cursor) else {
                throw .invalidMultipart(reason: "truncated part headers")
            }
            guard let blank = Self.find(Array("\r\n\r\n".utf8), in: input, from: headersStart - 2) else {
                throw .invalidMultipart(reason: "part without a blank line after its headers")
            }
            let headers = String(decoding: UnsafeBufferPointer(rebasing: input[headersStart..<blank]), as: UTF8.self)
            let bodyStart = blank + 4
            guard let next = Self.find(Array("\r\n".utf8) + delimiter, in: input, from: bodyStart - 2) else {
                throw .invalidMultipart(reason: "part not closed by the boundary (truncated body?)")
            }
            let bodyEnd = max(next, bodyStart)
            try builder.countVariable()
            if let disposition = Self.disposition(in: headers), disposition.filename == nil,
               let name = disposition.name {
                let value = String(decoding: UnsafeBufferPointer(rebasing: input[bodyStart..<bodyEnd]), as: UTF8.self)
                var nameBytes = Array(name.utf8)
                try nameBytes.withUnsafeBufferPointer { (buffer) throws(FormError) in
                    try builder.register(name: buffer, value: value)
                }
            }
            cursor = next + 2
        }
    }

    /// The `name` and `filename` parameters of a part's `Content-Disposition: form-data` header.
    static func disposition(in headers: String) -> (name: String?, filename: String?)? {
        for line in headers.split(separator: "\r\n", omittingEmptySubsequences: true) {
            guard let colon = line.firstIndex(of: ":"),
                  line[..<colon].lowercased() == "content-disposition" else { continue }
            var name: String? = nil
            var filename: String? = nil
            for (key, value) in parameters(String(line[line.index(after: colon)...])) {
                switch key.lowercased() {
                case "name": name = value
                case "filename": filename = value
                default: break
                }
            }
            return (name, filename)
        }
        return nil
    }

    /// Splits `form-data; name="a"; filename="b"` into parameters; quoted values may
    /// escape a quote or backslash with a backslash, as PHP's `php_ap_getword_conf` allows.
    static func parameters(_ text: String) -> [(String, String)] {
        var result: [(String, String)] = []
        var scalars = Substring(text).unicodeScalars[...]
        func skipSpaces() { while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() } }
        while !scalars.isEmpty {
            skipSpaces()
            var key = ""
            while let first = scalars.first, first != "=", first != ";" { key.unicodeScalars.append(scalars.removeFirst()) }
            var value = ""
            if scalars.first == "=" {
                scalars.removeFirst()
                skipSpaces()
                if scalars.first == "\"" {
                    scalars.removeFirst()
                    while let first = scalars.first, first != "\"" {
                        scalars.removeFirst()
                        if first == "\\", let escaped = scalars.first, escaped == "\"" || escaped == "\\" {
                            value.unicodeScalars.append(scalars.removeFirst())
                        } else {
                            value.unicodeScalars.append(first)
                        }
                    }
                    if !scalars.isEmpty { scalars.removeFirst() }
                    while let first = scalars.first, first != ";" { scalars.removeFirst() }
                } else {
                    while let first = scalars.first, first != ";" { value.unicodeScalars.append(scalars.removeFirst()) }
                    value = value.trimmingCharacters(in: " \t")
                }
            }
            if !scalars.isEmpty { scalars.removeFirst() }  // ';'
            let trimmedKey = key.trimmingCharacters(in: " \t")
            if !trimmedKey.isEmpty { result.append((trimmedKey, value)) }
        }
        return result
    }

    /// The index just past the next CRLF at or after `start`.
    static func lineEnd(in input: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard let crlf = find(Array("\r\n".utf8), in: input, from: start) else { return nil }
        return crlf + 2
    }

    /// The first index of `needle` in `input` at or after `start` (a plain scan: the
    /// first byte is searched with `memchr`-like speed by the standard library).
    static func find(_ needle: [UInt8], in input: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard let first = needle.first, needle.count <= input.count else { return nil }
        var position = max(start, 0)
        let last = input.count - needle.count
        while position <= last {
            guard let candidate = input[position...last].firstIndex(of: first) else { return nil }
            var matched = true
            for offset in 1..<needle.count where input[candidate + offset] != needle[offset] {
                matched = false
                break
            }
            if matched { return candidate }
            position = candidate + 1
        }
        return nil
    }
}

extension StringProtocol {
    /// The string without leading and trailing characters from `set` (no Foundation needed).
    func trimmingCharacters(in set: String) -> String {
        var scalars = Substring(self).unicodeScalars[...]
        while let first = scalars.first, set.unicodeScalars.contains(first) { scalars.removeFirst() }
        while let last = scalars.last, set.unicodeScalars.contains(last) { scalars.removeLast() }
        return String(scalars)
    }
}
