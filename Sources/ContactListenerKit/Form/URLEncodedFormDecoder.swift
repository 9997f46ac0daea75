/// Decodes `application/x-www-form-urlencoded` bodies and query strings exactly as PHP
/// fills `$_POST` / `parse_str` (main/php_variables.c `add_post_var`, `php_url_decode`).
public struct URLEncodedFormDecoder: Sendable {
    /// The limits enforced while decoding.
    public var limits: FormLimits
    /// Copy PHP's `.`/space → `_` renaming of top-level names (see `FormBuilder`).
    public var phpNameMangling: Bool

    /// Creates a decoder.
    public init(limits: FormLimits = .default, phpNameMangling: Bool = false) {
        self.limits = limits
        self.phpNameMangling = phpNameMangling
    }

    /// Decodes `input` into a fresh tree.
    public func decode(_ input: UnsafeBufferPointer<UInt8>) throws(FormError) -> FormArray {
        var builder = FormBuilder(limits: limits, phpNameMangling: phpNameMangling)
        try decode(input, into: &builder)
        return builder.root
    }

    /// Decodes the bytes of `input` into a fresh tree.
    public func decode(_ input: some Collection<UInt8>) throws(FormError) -> FormArray {
        let bytes = Array(input)
        return try bytes.withUnsafeBufferPointer { (buffer) throws(FormError) -> FormArray in try decode(buffer) }
    }

    /// Decodes `input` into `builder`: `&`-separated pairs, split at the first `=`.
    public func decode(_ input: UnsafeBufferPointer<UInt8>, into builder: inout FormBuilder) throws(FormError) {
        var scratch = [UInt8]()
        scratch.reserveCapacity(64)
        var start = 0
        let count = input.count
        while start < count {
            var separator = start
            var equals = -1
            while separator < count {
                let byte = input[separator]
                if byte == UInt8(ascii: "&") { break }
                if byte == UInt8(ascii: "="), equals < 0 { equals = separator }
                separator += 1
            }
            if separator > start {
                try builder.countVariable()
                let nameEnd = equals < 0 ? separator : equals
                let valueStart = equals < 0 ? separator : equals + 1
                scratch.removeAll(keepingCapacity: true)
                Self.percentDecode(UnsafeBufferPointer(rebasing: input[start..<nameEnd]), into: &scratch)
                let value = Self.percentDecodedString(UnsafeBufferPointer(rebasing: input[valueStart..<separator]))
                try scratch.withUnsafeBufferPointer { (name) throws(FormError) in
                    try builder.register(name: name, value: value)
                }
            }
            start = separator + 1
        }
    }

    /// PHP's `php_url_decode`: `+` is a space, `%XX` with two hex digits is a byte,
    /// and any other `%` stays literal.
    static func percentDecode(_ input: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) {
        var position = 0
        let count = input.count
        while position < count {
            let byte = input[position]
            if byte == UInt8(ascii: "+") {
                output.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), position + 2 < count,
                      let high = hexValue(input[position + 1]), let low = hexValue(input[position + 2]) {
                output.append(high << 4 | low)
                position += 2
            } else {
                output.append(byte)
            }
            position += 1
        }
    }

    /// Percent-decodes straight into a `String`, repairing invalid UTF-8 as U+FFFD.
    static func percentDecodedString(_ input: UnsafeBufferPointer<UInt8>) -> String {
        if input.isEmpty { return "" }
        var plain = true
        for byte in input where byte == UInt8(ascii: "%") || byte == UInt8(ascii: "+") {
            plain = false
            break
        }
        if plain { return String(decoding: input, as: UTF8.self) }
        return String(unsafeUninitializedCapacity: input.count) { output in
            var written = 0
            var position = 0
            let count = input.count
            while position < count {
                let byte = input[position]
                if byte == UInt8(ascii: "+") {
                    output[written] = UInt8(ascii: " ")
                } else if byte == UInt8(ascii: "%"), position + 2 < count,
                          let high = hexValue(input[position + 1]), let low = hexValue(input[position + 2]) {
                    output[written] = high << 4 | low
                    position += 2
                } else {
                    output[written] = byte
                }
                written += 1
                position += 1
            }
            return written
        }
    }

    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte &- UInt8(ascii: "A") &+ 10
        default: return nil
        }
    }
}
