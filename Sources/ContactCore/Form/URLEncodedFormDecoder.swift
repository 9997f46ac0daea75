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
    /// One pass per pair: the name is decoded into a scratch buffer up to its `=` or `&`,
    /// the value straight into the arena up to its `&` (`decodeRun`), so no separator is
    /// searched for separately and no byte is read twice.
    package func decode(_ input: UnsafeBufferPointer<UInt8>, into builder: inout FormBuilder) throws(FormError) {
        guard let base = input.baseAddress, !input.isEmpty else { return }
        // A decoded name is never longer than the rest of the input, and `decodeRun` writes
        // whole words only where the input has as many bytes left: the input's size is room
        // enough for any name.
        let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: input.count)
        defer { scratch.deallocate() }
        try Hex.values.withUnsafeBufferPointer { (hex) throws(FormError) in
            guard let hex = hex.baseAddress else { return }
            let end = base + input.count
            var source = base
            while source < end {
                let name = Self.decodeRun(from: source, to: end, into: scratch, hex: hex, stopAtEquals: true)
                let pairEnd: UnsafePointer<UInt8>
                if name.end < end, name.end.pointee == UInt8(ascii: "=") {
                    // The pair is not empty: it is counted before its value is stored.
                    try builder.countVariable()
                    pairEnd = try builder.register(
                        name: UnsafeBufferPointer(start: scratch, count: name.count),
                        encodedValueFrom: name.end + 1, to: end, hex: hex)
                } else {
                    pairEnd = name.end
                    if pairEnd > source {
                        try builder.countVariable()
                        _ = try builder.register(
                            name: UnsafeBufferPointer(start: scratch, count: name.count),
                            encodedValueFrom: pairEnd, to: pairEnd, hex: hex)
                    }
                }
                source = pairEnd + 1
            }
        }
    }

    /// Where `decodeRun` stopped: at the `&` (or `=`) that ended the run, or at the end.
    struct Run {
        /// The separator that ended the run, or the end of the input.
        var end: UnsafePointer<UInt8>
        /// How many decoded bytes were written.
        var count: Int
        /// True when a written byte is 0x80 or above (only then is UTF-8 validated).
        var nonASCII: Bool
    }

    /// Decodes as `percentDecode` does from `start` up to the first `&` (with `stopAtEquals`,
    /// the first `=` too) or `end`, writing to `output`.
    ///
    /// Eight bytes at a time: a word is copied whole and tested for a byte below `,` or an
    /// `=`; `http_build_query` leaves only `%`, `&` and `+` below `,` unencoded, so a flagged
    /// byte is nearly always one that matters, and a run of plain bytes costs one test per
    /// word. (Turning a word's `+`s into spaces in the word itself measured slower.) The word store may write up to 7 bytes past the decoded run, never past
    /// `output + (end - start)`: the caller provides that much room.
    @inline(__always)
    static func decodeRun(
        from start: UnsafePointer<UInt8>, to end: UnsafePointer<UInt8>, into output: UnsafeMutablePointer<UInt8>,
        hex: UnsafePointer<UInt8>, stopAtEquals: Bool
    ) -> Run {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        var source = start
        var target = output
        var seen: UInt64 = 0
        while true {
            while end - source >= 8 {
                // In bounds: 8 bytes remain at `source`, and `target` is no further into
                // `output` than `source` is into the input, so 8 bytes remain there too.
                let raw = UnsafeRawPointer(source).loadUnaligned(as: UInt64.self)
                UnsafeMutableRawPointer(target).storeBytes(of: raw, as: UInt64.self)
                let word = UInt64(littleEndian: raw)
                // The classic "has a byte less than n" test (exact for the lowest flagged byte).
                var flags = (word &- ones &* 0x2C) & ~word & highs
                if stopAtEquals {
                    let equals = word ^ (ones &* 0x3D)
                    flags |= (equals &- ones) & ~equals & highs
                }
                if flags == 0 {
                    seen |= word
                    source += 8
                    target += 8
                    continue
                }
                let plain = flags.trailingZeroBitCount >> 3
                seen |= word & ((1 &<< (UInt64(plain) &* 8)) &- 1)
                source += plain
                target += plain
                break
            }
            guard source < end else { break }
            var byte = source.pointee
            if byte == UInt8(ascii: "&") || (stopAtEquals && byte == UInt8(ascii: "=")) { break }
            source += 1
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
            target.pointee = byte
            target += 1
            seen |= UInt64(byte)
        }
        return Run(end: source, count: target - output, nonASCII: seen & highs != 0)
    }

    /// PHP's `php_url_decode`: `+` is a space, `%XX` with two hex digits is a byte,
    /// and any other `%` stays literal. Writes at most `count` bytes (never in place:
    /// `decodeRun` writes whole words ahead of what it has read); returns how many.
    static func percentDecode(_ input: UnsafePointer<UInt8>, count: Int, into output: UnsafeMutablePointer<UInt8>) -> Int {
        Hex.values.withUnsafeBufferPointer { hex in
            guard let hex = hex.baseAddress else { return 0 }
            let end = input + count
            var source = input
            var target = output
            while true {
                // In bounds: `target` is never further into `output` than `source` is into
                // `input`, which is the room `decodeRun` needs.
                let run = decodeRun(from: source, to: end, into: target, hex: hex, stopAtEquals: false)
                target += run.count
                guard run.end < end else { break }
                // A run stops at `&`, which is an ordinary byte here.
                target.pointee = run.end.pointee
                target += 1
                source = run.end + 1
            }
            return target - output
        }
    }

    /// Percent-decodes `text` into bytes exactly as the decoder decodes a name or value (the
    /// `token` rule must see the same bytes the decoder would have).
    package static func percentDecodedBytes(_ text: some StringProtocol) -> [UInt8] {
        let input = Array(text.utf8)
        return input.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return [] }
            // Decoding never lengthens: room for the input's length.
            return [UInt8](unsafeUninitializedCapacity: buffer.count) { output, initialized in
                initialized = output.baseAddress.map { percentDecode(base, count: buffer.count, into: $0) } ?? 0
            }
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
