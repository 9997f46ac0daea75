/// Decodes `application/x-www-form-urlencoded` bodies and query strings exactly as PHP
/// fills `$_POST` / `parse_str` (main/php_variables.c `add_post_var`, `php_url_decode`).
package struct URLEncodedFormDecoder: Sendable {
    /// The limits enforced while decoding.
    package var limits: FormLimits
    /// Copy PHP's `.`/space → `_` renaming of top-level names (see `FormBuilder`).
    package var phpNameMangling: Bool

    /// Creates a decoder.
    package init(limits: FormLimits = .default, phpNameMangling: Bool = false) {
        self.limits = limits
        self.phpNameMangling = phpNameMangling
    }

    /// Decodes `input` into a fresh tree.
    package func decode(_ input: UnsafeBufferPointer<UInt8>) throws(FormError) -> FormArray {
        try decodeArena(input).tree()
    }

    /// Decodes the bytes of `input` into a fresh arena.
    package func decodeArena(_ input: [UInt8]) throws(FormError) -> FormArena {
        try input.withUnsafeBufferPointer { (buffer) throws(FormError) -> FormArena in try decodeArena(buffer) }
    }

    /// Decodes `input` into a fresh arena (the request path: no tree is built).
    package func decodeArena(_ input: UnsafeBufferPointer<UInt8>) throws(FormError) -> FormArena {
        var builder = FormBuilder(limits: limits, phpNameMangling: phpNameMangling, capacity: input.count)
        try decode(input, into: &builder)
        return builder.arena
    }

    /// Decodes the bytes of `input` into a fresh tree.
    package func decode(_ input: some Collection<UInt8>) throws(FormError) -> FormArray {
        let bytes = Array(input)
        return try bytes.withUnsafeBufferPointer { (buffer) throws(FormError) -> FormArray in try decode(buffer) }
    }

    /// Decodes `input` into `builder`: `&`-separated pairs, split at the first `=`.
    ///
    /// Separators are found with `memchr` and names decoded into one scratch buffer that
    /// lives as long as the call: the byte loop is where the decoder spends its time.
    package func decode(_ input: UnsafeBufferPointer<UInt8>, into builder: inout FormBuilder) throws(FormError) {
        guard let base = input.baseAddress, !input.isEmpty else { return }
        var capacity = 256
        var scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { scratch.deallocate() }
        var start = 0
        let count = input.count
        while start < count {
            let separator = ByteSearch.firstIndex(of: UInt8(ascii: "&"), in: input, from: start) ?? count
            if separator > start {
                try builder.countVariable()
                let equals = ByteSearch.firstIndex(of: UInt8(ascii: "="), in: input, from: start, to: separator)
                let nameEnd = equals ?? separator
                let valueStart = equals.map { $0 + 1 } ?? separator
                if nameEnd - start > capacity {
                    // A decoded name is never longer than its encoded form.
                    scratch.deallocate()
                    capacity = nameEnd - start
                    scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
                }
                let nameLength = Self.percentDecode(base + start, count: nameEnd - start, into: scratch)
                try builder.register(
                    name: UnsafeBufferPointer(start: scratch, count: nameLength),
                    encodedValue: UnsafeBufferPointer(start: base + valueStart, count: separator - valueStart))
            }
            start = separator + 1
        }
    }

    /// PHP's `php_url_decode`: `+` is a space, `%XX` with two hex digits is a byte,
    /// and any other `%` stays literal. Writes at most `count` bytes; returns how many.
    ///
    /// One comparison per plain byte: `%` and `+` are told apart only when the byte is one
    /// of them. (Copying 8-byte runs at once measured slower here: a form name has a `%5B`
    /// every few bytes, so the runs are short.)
    static func percentDecode(_ input: UnsafePointer<UInt8>, count: Int, into output: UnsafeMutablePointer<UInt8>) -> Int {
        Hex.values.withUnsafeBufferPointer { hex in
            var source = input
            let end = input + count
            var target = output
            while source < end {
                var byte = source.pointee
                source += 1
                if byte <= UInt8(ascii: "+") {
                    if byte == UInt8(ascii: "+") {
                        byte = UInt8(ascii: " ")
                    } else if byte == UInt8(ascii: "%"), end - source >= 2 {
                        let high = hex[Int(source[0])]
                        let low = hex[Int(source[1])]
                        if (high | low) & 0x80 == 0 {
                            byte = high << 4 | low
                            source += 2
                        }
                    }
                }
                target.pointee = byte
                target += 1
            }
            return target - output
        }
    }

    /// Percent-decodes `text` into bytes exactly as the decoder decodes a name or value (the
    /// `token` rule must see the same bytes the decoder would have).
    package static func percentDecodedBytes(_ text: some StringProtocol) -> [UInt8] {
        var input = Array(text.utf8)
        return input.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return [] }
            // Decoding never lengthens: decode in place.
            let count = percentDecode(base, count: buffer.count, into: base)
            return Array(buffer.prefix(count))
        }
    }

    /// Percent-decodes straight into a `String`, repairing invalid UTF-8 as U+FFFD.
    package static func percentDecodedString(_ input: UnsafeBufferPointer<UInt8>) -> String {
        guard let source = input.baseAddress, !input.isEmpty else { return "" }
        if ByteSearch.firstIndex(of: UInt8(ascii: "%"), in: input) == nil,
           ByteSearch.firstIndex(of: UInt8(ascii: "+"), in: input) == nil {
            return String(decoding: input, as: UTF8.self)
        }
        return String(unsafeUninitializedCapacity: input.count) { output in
            guard let target = output.baseAddress else { return 0 }
            return percentDecode(source, count: input.count, into: target)
        }
    }
}
