/// Decodes `multipart/form-data` bodies with PHP's rules (main/rfc1867.c): each part's
/// `name` goes through the same registration as a URL-encoded name (but is not
/// URL-decoded), and parts with a `filename` are uploads, not form values, so they are skipped.
package struct MultipartFormDecoder: Sendable {
    /// The limits enforced while decoding; every part counts against `maxVars`.
    package var limits: FormLimits
    /// Copy PHP's `.`/space → `_` renaming of top-level names (see `FormBuilder`).
    package var phpNameMangling: Bool

    /// Creates a decoder.
    package init(limits: FormLimits = .default, phpNameMangling: Bool = false) {
        self.limits = limits
        self.phpNameMangling = phpNameMangling
    }

    /// The `boundary` parameter of a `multipart/form-data` content type, unquoted.
    ///
    /// As rfc1867.c reads it: a quoted value runs to its closing quote (so it may hold `;`,
    /// `,` or spaces; an unclosed quote is an invalid boundary), an unquoted one ends at `,`
    /// or `;` (`strpbrk(boundary, ",;")`). Unlike PHP's `strstr(content_type, "boundary")`,
    /// only a parameter named `boundary` counts, not the word inside another value.
    package static func boundary(fromContentType contentType: String) -> String? {
        var rest = Substring(contentType)
        guard let firstSemicolon = rest.firstIndex(of: ";") else { return nil }
        rest = rest[rest.index(after: firstSemicolon)...]
        while !rest.isEmpty {
            rest = rest.drop(while: { $0 == " " || $0 == "\t" })
            let nameEnd = rest.firstIndex(where: { $0 == "=" || $0 == ";" }) ?? rest.endIndex
            let name = rest[..<nameEnd].trimmingCharacters(in: " \t").lowercased()
            rest = rest[nameEnd...]
            guard rest.first == "=" else {
                rest = rest.dropFirst()  // a parameter without a value
                continue
            }
            rest = rest.dropFirst().drop(while: { $0 == " " || $0 == "\t" })
            let value: String
            if rest.first == "\"" {
                let quoted = rest.dropFirst()
                guard let close = quoted.firstIndex(of: "\"") else { return nil }
                value = String(quoted[..<close])
                rest = quoted[quoted.index(after: close)...]
                rest = rest.drop(while: { $0 != ";" }).dropFirst()
            } else {
                let end = rest.firstIndex(where: { $0 == ";" || $0 == "," }) ?? rest.endIndex
                value = rest[..<end].trimmingCharacters(in: " \t")
                rest = rest[end...].drop(while: { $0 != ";" }).dropFirst()
            }
            if name == "boundary" { return value.isEmpty ? nil : value }
        }
        return nil
    }

    /// RFC 2046 §5.1.1: a boundary is 1 to 70 characters. A longer one is refused before
    /// the body is searched for it.
    package static let maxBoundaryLength = 70

    /// Decodes `input`, split at `--boundary` delimiter lines.
    package func decode(_ input: UnsafeBufferPointer<UInt8>, boundary: String) throws(FormError) -> FormArray {
        guard (1...Self.maxBoundaryLength).contains(boundary.utf8.count) else {
            throw .invalidMultipart(reason: "the boundary is \(boundary.utf8.count) characters long; RFC 2046 allows 1 to \(Self.maxBoundaryLength)")
        }
        var parts = 0
        var builder = FormBuilder(limits: limits, phpNameMangling: phpNameMangling)
        let delimiter = Array("--\(boundary)".utf8)
        guard var cursor = ByteSearch.firstIndex(of: delimiter, in: input, from: 0) else {
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
            guard let blank = ByteSearch.firstIndex(of: Array("\r\n\r\n".utf8), in: input, from: headersStart - 2) else {
                throw .invalidMultipart(reason: "part without a blank line after its headers")
            }
            // A part with no headers ("--b\r\n\r\n…") has its blank line start 2 bytes
            // *before* headersStart; slicing headersStart..<blank then trapped, so one
            // request could crash the listener.
            let headers = blank > headersStart
                ? String(decoding: UnsafeBufferPointer(rebasing: input[headersStart..<blank]), as: UTF8.self)
                : ""
            let bodyStart = blank + 4
            guard let next = ByteSearch.firstIndex(of: Array("\r\n".utf8) + delimiter, in: input, from: bodyStart - 2) else {
                throw .invalidMultipart(reason: "part not closed by the boundary (truncated body?)")
            }
            let bodyEnd = max(next, bodyStart)
            parts += 1
            if parts > limits.maxParts { throw .tooManyParts(limit: limits.maxParts) }
            try builder.countVariable()
            if let disposition = Self.disposition(in: headers), disposition.filename == nil,
               let name = disposition.name {
                let value = String(decoding: UnsafeBufferPointer(rebasing: input[bodyStart..<bodyEnd]), as: UTF8.self)
                let nameBytes = Array(name.utf8)
                try nameBytes.withUnsafeBufferPointer { (buffer) throws(FormError) in
                    try builder.register(name: buffer, value: value)
                }
            }
            cursor = next + 2
        }
    }

    /// Decodes the bytes of `input`.
    package func decode(_ input: some Collection<UInt8>, boundary: String) throws(FormError) -> FormArray {
        let bytes = Array(input)
        return try bytes.withUnsafeBufferPointer { (buffer) throws(FormError) -> FormArray in
            try decode(buffer, boundary: boundary)
        }
    }

    /// The `name` and `filename` parameters of a part's `Content-Disposition` header, or
    /// nil when the part has none (PHP then skips the part).
    ///
    /// A port of rfc1867.c (PHP 8.2): `php_ap_getword` splits the header at `;` and each
    /// pair at `=`, skipping over quoted runs; the key is compared with `strcasecmp` and is
    /// not trimmed; `php_ap_getword_conf` reads the value, which may be quoted with `"` or
    /// `'` (a backslash escapes the quote or a backslash) or, unquoted, ends at whitespace.
    static func disposition(in headers: String) -> (name: String?, filename: String?)? {
        guard var rest = headerValue(named: "content-disposition", in: headers) else { return nil }
        var name: String? = nil
        var filename: String? = nil
        rest = rest.drop(while: isSpace)
        while !rest.isEmpty {
            var pair = getword(&rest, stop: UInt8(ascii: ";"))
            rest = rest.drop(while: isSpace)
            guard pair.contains(UInt8(ascii: "=")) else { continue }
            let key = getword(&pair, stop: UInt8(ascii: "="))
            if asciiCaseInsensitiveEquals(key, "name") {
                name = String(decoding: getwordConf(pair), as: UTF8.self)
            } else if asciiCaseInsensitiveEquals(key, "filename") {
                filename = String(decoding: getwordConf(pair), as: UTF8.self)
            }
        }
        return (name, filename)
    }

    /// The value of the first header called `name` (ASCII case-insensitive), as
    /// `multipart_buffer_headers` + `php_mime_get_hdr_value` find it: lines end at LF with an
    /// optional CR before it, a line starting with whitespace (or without a colon) continues
    /// the previous header, the value starts after the colon and its whitespace, and being a
    /// C string it ends at the first NUL.
    static func headerValue(named name: String, in headers: String) -> ArraySlice<UInt8>? {
        var entries: [(key: ArraySlice<UInt8>, value: [UInt8])] = []
        for var line in Array(headers.utf8).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            if let nul = line.firstIndex(of: 0) { line = line[..<nul] }
            if let first = line.first, !isSpace(first), let colon = line.firstIndex(of: UInt8(ascii: ":")) {
                let value = line[line.index(after: colon)...].drop(while: isSpace)
                entries.append((line[..<colon], Array(value)))
            } else if !entries.isEmpty {
                entries[entries.count - 1].value.append(contentsOf: line)
            }
        }
        for entry in entries where asciiCaseInsensitiveEquals(entry.key, name) { return entry.value[...] }
        return nil
    }

    /// `php_ap_getword`: the text up to the first `stop` outside quotes (all of it when there
    /// is none); `line` is left after the run of `stop` bytes that follows.
    static func getword(_ line: inout ArraySlice<UInt8>, stop: UInt8) -> ArraySlice<UInt8> {
        var position = line.startIndex
        while position < line.endIndex, line[position] != stop {
            let quote = line[position]
            guard quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") else {
                position += 1
                continue
            }
            position += 1
            while position < line.endIndex, line[position] != quote {
                // Only an escaped quote is skipped here; `\\` is not (PHP's quirk, kept).
                if line[position] == UInt8(ascii: "\\"), position + 1 < line.endIndex, line[position + 1] == quote {
                    position += 2
                } else {
                    position += 1
                }
            }
            if position < line.endIndex { position += 1 }
        }
        let word = line[line.startIndex..<position]
        line = line[position...].drop(while: { $0 == stop })
        return word
    }

    /// `php_ap_getword_conf` + `substring_conf`: a parameter value after leading whitespace,
    /// either quoted (up to the closing quote, `\"`/`\'` and `\\` unescaped) or bare (up
    /// to whitespace, `\\` unescaped).
    static func getwordConf(_ text: ArraySlice<UInt8>) -> [UInt8] {
        var text = text.drop(while: isSpace)
        var quote: UInt8? = nil
        if let first = text.first, first == UInt8(ascii: "\"") || first == UInt8(ascii: "'") {
            quote = first
            text = text.dropFirst()
        } else {
            text = text.prefix(while: { !isSpace($0) })
        }
        var result: [UInt8] = []
        var position = text.startIndex
        while position < text.endIndex, text[position] != quote {
            let byte = text[position]
            if byte == UInt8(ascii: "\\"), position + 1 < text.endIndex,
               text[position + 1] == UInt8(ascii: "\\") || (quote != nil && text[position + 1] == quote) {
                position += 1
            }
            result.append(text[position])
            position += 1
        }
        return result
    }

    /// C's `isspace` in the "C" locale, as rfc1867.c uses it (the same test as the names').
    static func isSpace(_ byte: UInt8) -> Bool { FormBuilder.isCSpace(byte) }

    /// `strcasecmp(a, b) == 0` for ASCII.
    static func asciiCaseInsensitiveEquals(_ bytes: some Collection<UInt8>, _ text: String) -> Bool {
        guard bytes.count == text.utf8.count else { return false }
        for (byte, other) in zip(bytes, text.utf8) {
            let lower = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
            let otherLower = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(other) ? other | 0x20 : other
            if lower != otherLower { return false }
        }
        return true
    }

    /// The index just past the next CRLF at or after `start`.
    static func lineEnd(in input: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard let crlf = ByteSearch.firstIndex(of: Array("\r\n".utf8), in: input, from: start) else { return nil }
        return crlf + 2
    }
}

extension StringProtocol {
    /// The string without leading and trailing characters from `set` (no Foundation needed).
    package func trimmingCharacters(in set: String) -> String {
        var scalars = Substring(self).unicodeScalars[...]
        while let first = scalars.first, set.unicodeScalars.contains(first) { scalars.removeFirst() }
        while let last = scalars.last, set.unicodeScalars.contains(last) { scalars.removeLast() }
        return String(scalars)
    }
}
