/// Builds the decoded tree one variable at a time with the rules of PHP's
/// `php_register_variable_ex` (main/php_variables.c, PHP 8.2): bracket nesting,
/// `[]` appends, leaf/array overrides in either order, unmatched brackets.
///
/// URL-encoded and multipart bodies both feed it, as they do in PHP.
public struct FormBuilder: Sendable {
    /// The tree built so far.
    public private(set) var root = FormArray()
    /// The limits enforced on every variable.
    public let limits: FormLimits
    /// PHP turns `.` and space in a top-level name (and `[` of an unmatched bracket) into `_`.
    /// The listener keeps names as sent; the differential tests switch this on to match PHP.
    public let phpNameMangling: Bool
    private var variables = 0

    /// Creates an empty builder.
    public init(limits: FormLimits = .default, phpNameMangling: Bool = false) {
        self.limits = limits
        self.phpNameMangling = phpNameMangling
    }

    /// Counts one variable against `limits.maxVars`.
    public mutating func countVariable() throws(FormError) {
        variables += 1
        if variables > limits.maxVars { throw .tooManyVariables(limit: limits.maxVars) }
    }

    /// Registers `value` under the raw (already URL-decoded) variable `name`.
    public mutating func register(name rawName: UnsafeBufferPointer<UInt8>, value: String) throws(FormError) {
        if rawName.count > limits.maxKeyBytes {
            throw .keyTooLong(prefix: String(decoding: rawName.prefix(32), as: UTF8.self), limit: limits.maxKeyBytes)
        }
        if value.utf8.count > limits.maxValueBytes {
            throw .valueTooLong(name: String(decoding: rawName, as: UTF8.self), limit: limits.maxValueBytes)
        }
        // PHP passes the name as a C string: a decoded %00 ends it.
        var end = rawName.firstIndex(of: 0) ?? rawName.count
        var start = 0
        while start < end, rawName[start] == UInt8(ascii: " ") { start += 1 }  // leading spaces are ignored
        var name = Array(rawName[start..<end])
        end = name.count

        var bracket = end
        for position in 0..<end {
            let byte = name[position]
            if byte == UInt8(ascii: "[") { bracket = position; break }
            if phpNameMangling, byte == UInt8(ascii: " ") || byte == UInt8(ascii: ".") {
                name[position] = UInt8(ascii: "_")
            }
        }
        if bracket == 0 { return }  // empty name: PHP ignores the variable
        let topName = FormKey(bytes: name[0..<bracket])
        if bracket == end {
            root[topName] = .string(value)
            return
        }
        // Parse the indices first, so a name that is too deep stores nothing.
        guard let path = try indices(of: &name, bracket: bracket) else {
            // An unmatched `[` right after the name: the whole name is the key.
            root[FormKey(bytes: name)] = .string(value)
            return
        }
        Self.assign(value, at: topName, path: path, in: &root)
    }

    /// The `[…]` indices after the top-level name: nil entries are appends.
    /// Returns nil when the first bracket is unmatched. An unmatched later bracket,
    /// or text after a `]` that is not `[`, ends the path (PHP ignores the rest).
    private func indices(of name: inout [UInt8], bracket: Int) throws(FormError) -> [FormKey?]? {
        var path: [FormKey?] = []
        var cursor = bracket  // at a '['
        let end = name.count
        while true {
            if path.count + 1 > limits.maxDepth {
                throw .tooDeep(name: String(decoding: name[0..<bracket], as: UTF8.self), limit: limits.maxDepth)
            }
            cursor += 1
            let indexStart = cursor
            // PHP skips one `isspace()` byte here (space, \t, \n, \v, \f or \r), so `[\t]`
            // appends like `[]` and `[ ]`; only looking for ' ' made `a[%09]` a "\t" key.
            if cursor < end, Self.isCSpace(name[cursor]) { cursor += 1 }
            if cursor < end, name[cursor] == UInt8(ascii: "]") {
                path.append(nil)
            } else {
                var close = cursor
                while close < end, name[close] != UInt8(ascii: "]") { close += 1 }
                if close == end {
                    if !path.isEmpty { return path }
                    if phpNameMangling {
                        name[bracket] = UInt8(ascii: "_")
                        for position in indexStart..<end
                        where name[position] == UInt8(ascii: " ") || name[position] == UInt8(ascii: ".")
                            || name[position] == UInt8(ascii: "[") {
                            name[position] = UInt8(ascii: "_")
                        }
                    }
                    return nil
                }
                path.append(FormKey(bytes: name[indexStart..<close]))
                cursor = close
            }
            cursor += 1  // past ']'
            if cursor >= end || name[cursor] != UInt8(ascii: "[") { return path }
        }
    }

    /// C's `isspace` in the "C" locale, which php_register_variable_ex uses.
    static func isCSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || (0x09...0x0D).contains(byte)
    }

    /// Walks `path` below `key`, creating arrays level by level, and stores the leaf.
    ///
    /// Iterative on purpose: a recursive walk used several stack frames per level and
    /// overflowed an 8 MB thread stack at about 10,000 levels when `maxDepth` was raised.
    /// Each level's array is detached from its parent on the way down (so it is mutated in
    /// place, never copied) and reattached on the way up. When a `[]` append fails (the next
    /// index is taken at `Int.max`), PHP drops the value but keeps the levels it already
    /// created; so does this.
    private static func assign(_ value: String, at key: FormKey?, path: [FormKey?], in root: inout FormArray) {
        var current = FormArray()
        swap(&current, &root)  // own the root uniquely while we work on it
        var parents: [(array: FormArray, position: Int)] = []
        parents.reserveCapacity(path.count)
        var key = key
        var stored = true
        for next in path {
            guard let (position, nested) = current.detachNestedArray(at: key) else {
                stored = false
                break
            }
            parents.append((current, position))
            current = nested
            key = next
        }
        if stored {
            if let key { current[key] = .string(value) } else { current.append(.string(value)) }
        }
        // Reattach in place inside `parents`, then move the parent out: binding it to a
        // new variable first could copy it, and a copy of a big array per variable is quadratic.
        while let last = parents.indices.last {
            parents[last].array.reattach(current, at: parents[last].position)
            current = parents.removeLast().array
        }
        root = current
    }
}
