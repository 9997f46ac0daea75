/// Decodes an `application/json` body into the same tree a form body gives, as PHP's
/// `json_decode($body, true)` would: objects become arrays whose numeric-string keys are
/// integer keys (`zend_symtable_update`), and lists become arrays keyed `0..n-1`.
///
/// Leaves stay the text that was sent: a number keeps its literal digits, `true` and
/// `false` become `"true"` and `"false"`, and `null` becomes `""`.
package struct JSONFormDecoder: Sendable {
    /// The limits enforced while decoding (`maxDepth` bounds the recursion).
    package var limits: FormLimits

    /// Creates a decoder.
    package init(limits: FormLimits = .default) {
        self.limits = limits
    }

    /// Decodes `input`, whose top level must be an object or a list.
    package func decode(_ input: UnsafeBufferPointer<UInt8>) throws(FormError) -> FormArray {
        var parser = JSONFormParser(input: input, limits: limits, maxDepth: limits.maxDepth)
        parser.skipWhitespace()
        if parser.position >= input.count { throw .invalidJSON(offset: 0, reason: "empty body") }
        // Parse first, classify after: `hello` or a BOM is invalid JSON (as json_decode says),
        // and only a valid scalar such as `1` or `"s"` is "not an object".
        let value = try parser.parseValue(depth: 0, path: "")
        parser.skipWhitespace()
        if parser.position != input.count { throw parser.failure("unexpected data after the top-level value") }
        guard case .array(let array) = value else { throw .jsonNotAnObject }
        return array
    }

    /// Decodes the bytes of `input`.
    package func decode(_ input: some Collection<UInt8>) throws(FormError) -> FormArray {
        let bytes = Array(input)
        return try bytes.withUnsafeBufferPointer { (buffer) throws(FormError) -> FormArray in try decode(buffer) }
    }
}
