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

    /// The boundary of a `multipart/form-data` content type, in the case it was sent
    /// (RFC 2046 §5.1.1: a boundary is case-sensitive), read exactly as PHP reads it
    /// (main/SAPI.c, then main/rfc1867.c), so that a body means the same here as there:
    /// - the header is a C string (it ends at a NUL), and its media type, up to the first `;`,
    ///   `,` or space, is lower-cased; the rest stays as sent;
    /// - the first `boundary` in it (`BOUNDARY` when there is no lower-case one) is found
    ///   wherever it is, even inside another parameter, and the value starts after the next `=`;
    /// - a quoted value runs to its closing quote (an unclosed quote is no boundary); an
    ///   unquoted one to the next `,` or `;`, spaces included.
    package static func boundary(fromContentType contentType: String) -> String? {
        var header = Array(contentType.utf8.prefix(while: { $0 != 0 }))
        for index in header.indices {
            if MediaType.isEnd(header[index]) { break }
            header[index] = lowercased(header[index])
        }
        let name = Array("boundary".utf8)
        guard let found = firstIndex(of: name, in: header) ?? firstIndex(of: name, in: header.map(lowercased)),
              let equals = header[found...].firstIndex(of: UInt8(ascii: "="))
        else { return nil }
        var value = header[(equals + 1)...]
        if value.first == UInt8(ascii: "\"") {
            value = value.dropFirst()
            guard let close = value.firstIndex(of: UInt8(ascii: "\"")) else { return nil }
            value = value[..<close]
        } else if let end = value.firstIndex(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: ";") }) {
            value = value[..<end]
        }
        return value.isEmpty ? nil : String(decoding: value, as: UTF8.self)
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }

    /// `strstr`: the first index of `needle` in `haystack`.
    private static func firstIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        haystack.withUnsafeBufferPointer { ByteSearch.firstIndex(of: needle, in: $0, from: 0) }
    }

    /// RFC 2046 §5.1.1: a boundary is 1 to 70 characters. A longer one is refused before
    /// the body is searched for it.
    package static let maxBoundaryLength = 70

    /// PHP reads a multipart body's lines through a buffer of this many bytes (rfc1867.c's
    /// `FILLUNIT`, for a boundary of up to 70 characters): a line without its LF in the
    /// first 5120 bytes comes out in 5120-byte pieces, each taken for a line. The structure
    /// is read in the same pieces here, so that no piece can be a delimiter or header line
    /// in one reader and not in the other.
    package static let lineBufferBytes = 5120

    /// Decodes `input`, split at its `--boundary` delimiter lines, as PHP's multipart reader
    /// (main/rfc1867.c) splits it:
    /// - a line ends at LF, with or without a CR before it, so bodies written with LF alone,
    ///   or with mixed endings, read as with CRLF; compared as a C string, its content ends
    ///   at its first NUL; a longer line than `lineBufferBytes` is read in pieces;
    /// - a part starts after a line that is exactly `--boundary` (lines before the first one
    ///   are skipped), and its headers run to the first empty line;
    /// - its value runs to the next `LF--boundary` (one CR before the LF is the line break's,
    ///   not the value's), wherever that is: a line that merely starts with the delimiter
    ///   ends the value too; lines are then skipped up to the next delimiter line;
    /// - `--boundary--` closes nothing for PHP: a part after it is read like any other.
    ///
    /// Where PHP keeps what it found in a body cut short, this refuses it: a cut-off request
    /// is not a contact to acknowledge. So a body needs a delimiter line, every part an empty
    /// line after its headers and a delimiter after its value, and the last part a
    /// `--boundary--` line after it.
    package func decode(_ input: UnsafeBufferPointer<UInt8>, boundary: String) throws(FormError) -> FormArray {
        try decodeArena(input, boundary: boundary).tree()
    }

    /// Decodes `input` into a fresh arena (the request path: no tree is built).
    package func decodeArena(_ input: UnsafeBufferPointer<UInt8>, boundary: String) throws(FormError) -> FormArena {
        guard (1...Self.maxBoundaryLength).contains(boundary.utf8.count) else {
            throw .invalidMultipart(reason: "the boundary is \(boundary.utf8.count) characters long; RFC 2046 allows 1 to \(Self.maxBoundaryLength)")
        }
        var parts = 0
        var builder = FormBuilder(limits: limits, phpNameMangling: phpNameMangling, capacity: input.count)
        let delimiter = Array("--\(boundary)".utf8)
        // Where a value ends: PHP's `boundary_next`.
        let valueEnd = [Self.lf] + delimiter
        var closed = false
        guard var headersStart = Self.nextDelimiter(delimiter, in: input, from: 0, closed: &closed) else {
            if closed { return builder.arena }
            throw .invalidMultipart(reason: "boundary '\(boundary)' not found")
        }
        while true {
            // The part's header lines, up to the first empty one.
            var cursor = headersStart
            var headerLines: [ArraySlice<UInt8>] = []
            var headersEnded = false
            while let line = Self.nextLine(in: input, from: cursor) {
                defer { cursor = line.after }
                if line.contentEnd == cursor {
                    headersEnded = true
                    break
                }
                headerLines.append(Array(UnsafeBufferPointer(rebasing: input[cursor..<line.contentEnd]))[...])
            }
            guard headersEnded else {
                throw .invalidMultipart(reason: cursor == headersStart ? "truncated part headers" : "part without a blank line after its headers")
            }
            let bodyStart = cursor
            guard let end = ByteSearch.firstIndex(of: valueEnd, in: input, from: bodyStart) else {
                throw .invalidMultipart(reason: "part not closed by the boundary (truncated body?)")
            }
            let bodyEnd = end > bodyStart && input[end - 1] == Self.cr ? end - 1 : end
            parts += 1
            if parts > limits.maxParts { throw .tooManyParts(limit: limits.maxParts) }
            try builder.countVariable()
            if let disposition = Self.disposition(in: headerLines), disposition.filename == nil,
               let name = disposition.name {
                let nameBytes = Array(name.utf8)
                try nameBytes.withUnsafeBufferPointer { (buffer) throws(FormError) in
                    try builder.register(name: buffer, rawValue: UnsafeBufferPointer(rebasing: input[bodyStart..<bodyEnd]))
                }
            }
            closed = false
            guard let next = Self.nextDelimiter(delimiter, in: input, from: end + 1, closed: &closed) else {
                if closed { return builder.arena }
                throw .invalidMultipart(reason: "body not closed by '--\(boundary)--' (truncated body?)")
            }
            headersStart = next
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
    static func disposition(in lines: [ArraySlice<UInt8>]) -> (name: String?, filename: String?)? {
        guard var rest = headerValue(named: "content-disposition", in: lines) else { return nil }
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
    /// `multipart_buffer_headers` + `php_mime_get_hdr_value` find it in the part's header
    /// lines (as `nextLine` cuts them: without their line break, up to a NUL, long ones in
    /// pieces): a line starting with whitespace, or without a colon, continues the previous
    /// header, and the value starts after the colon and its whitespace.
    static func headerValue(named name: String, in lines: [ArraySlice<UInt8>]) -> ArraySlice<UInt8>? {
        var entries: [(key: ArraySlice<UInt8>, value: [UInt8])] = []
        for line in lines {
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

    static let lf = UInt8(ascii: "\n")
    static let cr = UInt8(ascii: "\r")

    /// The line starting at `start`: where its content ends (before `CR LF` or `LF`, or at
    /// its first NUL) and where the next line starts; nil when no LF ends it (the body ends).
    /// Without an LF in its first `lineBufferBytes`, the line is those bytes (PHP's
    /// `next_line` returns its full buffer as a partial line).
    static func nextLine(in input: UnsafeBufferPointer<UInt8>, from start: Int) -> (contentEnd: Int, after: Int)? {
        let pieceEnd = start + lineBufferBytes
        var contentEnd: Int
        let after: Int
        if let found = ByteSearch.firstIndex(of: lf, in: input, from: start, to: min(input.count, pieceEnd)) {
            contentEnd = found > start && input[found - 1] == cr ? found - 1 : found
            after = found + 1
        } else if input.count >= pieceEnd {
            contentEnd = pieceEnd
            after = pieceEnd
        } else {
            return nil
        }
        if let nul = ByteSearch.firstIndex(of: 0, in: input, from: start, to: contentEnd) { contentEnd = nul }
        return (contentEnd, after)
    }

    /// Skips lines from `line` (a line's start) up to one that is exactly `delimiter` and
    /// returns where the line after it starts; nil when the body ends first. `closed` is set
    /// when a skipped line starts with `delimiter--`.
    static func nextDelimiter(_ delimiter: [UInt8], in input: UnsafeBufferPointer<UInt8>, from line: Int, closed: inout Bool) -> Int? {
        var line = line
        while true {
            if isClosing(delimiter, in: input, at: line) { closed = true }
            guard let next = nextLine(in: input, from: line) else { return nil }
            if next.contentEnd - line == delimiter.count, startsWith(delimiter, in: input, at: line) { return next.after }
            line = next.after
        }
    }

    /// Whether the line at `start` starts with the closing delimiter `--boundary--`.
    static func isClosing(_ delimiter: [UInt8], in input: UnsafeBufferPointer<UInt8>, at start: Int) -> Bool {
        startsWith(delimiter, in: input, at: start)
            && start + delimiter.count + 1 < input.count
            && input[start + delimiter.count] == UInt8(ascii: "-") && input[start + delimiter.count + 1] == UInt8(ascii: "-")
    }

    static func startsWith(_ prefix: [UInt8], in input: UnsafeBufferPointer<UInt8>, at start: Int) -> Bool {
        guard start + prefix.count <= input.count else { return false }
        for offset in prefix.indices where input[start + offset] != prefix[offset] { return false }
        return true
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
