#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds the decoded form one variable at a time with the rules of PHP's
/// `php_register_variable_ex` (main/php_variables.c, PHP 8.2): bracket nesting,
/// `[]` appends, leaf/array overrides in either order, unmatched brackets.
///
/// URL-encoded and multipart bodies both feed it, as they do in PHP. It builds a
/// `FormArena`: keys and values are copied into one byte buffer, nodes into one array.
///
/// Speed: consecutive variables of a contact share their prefix
/// (`fields[3][id]`, `fields[3][name]`, `fields[3][value]`), so the arrays along the last
/// variable's path are remembered (`path`) with how much of its name each one needs
/// (`through`). The name is compared with the previous one 8 bytes at a time; every
/// level that the common prefix covers is reused as it is, and only the rest of the name
/// is parsed and looked up.
package struct FormBuilder: Sendable {
    /// The limits enforced on every variable.
    package let limits: FormLimits
    /// PHP turns `.` and space in a top-level name (and `[` of an unmatched bracket) into `_`.
    /// The listener keeps names as sent; the differential tests switch this on to match PHP.
    package let phpNameMangling: Bool
    private var variables = 0
    /// The form built so far.
    package private(set) var arena: FormArena
    /// The arrays along the last variable's container path: `path[0]` is its top-level
    /// array, each next one nested in the one before; the first `pathCount` are in use
    /// (the array is reused, never shrunk).
    private var path: [FormArena.NodeID] = []
    private var pathCount = 0
    /// For each array of `path`, how many leading bytes of a name must equal the previous
    /// name's for that name to lead to it: through the first `[` for the top-level array,
    /// through the `]` of its index for a nested one (the bytes before fix every index up
    /// to it); `Int.max` for an array an append (`[]`) made, which no other name reaches.
    /// (Two arrays of standard types, not one of a struct: a new element type costs the
    /// runtime a metadata instantiation, about 12,000 instructions, in every process.)
    private var through: [Int] = []
    /// The first bytes of the name that made `path`: as many as its last level's `through`
    /// (`previousCount`, the first bytes of the array, which only grows).
    private var previous: [UInt8] = []
    private var previousCount = 0
    /// Scratch for the `[…]` indices of the variable being registered: the first
    /// `segmentCount` are this variable's (the array is reused, never shrunk).
    private var segments: [Segment] = []
    private var segmentCount = 0
    /// Scratch for a name that `phpNameMangling` rewrites.
    private var mangled: [UInt8] = []

    /// The bytes of one `[…]` index in the name; `start < 0` is an append (`[]`).
    private struct Segment: Sendable {
        var start: Int
        var end: Int
        var isAppend: Bool { start < 0 }
    }

    /// Creates an empty builder, with room for a body of `capacity` bytes.
    package init(limits: FormLimits = .default, phpNameMangling: Bool = false, capacity: Int = 0) {
        self.limits = limits
        self.phpNameMangling = phpNameMangling
        self.arena = FormArena(capacity: capacity)
        // Room for the usual depth at once: grown one append at a time, each array was
        // reallocated twice per form.
        path.reserveCapacity(8)
        through.reserveCapacity(8)
        segments.reserveCapacity(8)
    }

    /// The tree built so far.
    package var root: FormArray { arena.tree() }

    /// Counts one variable against `limits.maxVars`.
    package mutating func countVariable() throws(FormError) {
        variables += 1
        if variables > limits.maxVars { throw .tooManyVariables(limit: limits.maxVars) }
    }

    /// Registers the raw bytes `value` (repaired to UTF-8) under the raw variable `name`.
    package mutating func register(name rawName: UnsafeBufferPointer<UInt8>, rawValue: UnsafeBufferPointer<UInt8>) throws(FormError) {
        let stored = arena.appendBytes(rawValue)
        try register(name: rawName, value: stored)
    }

    /// Registers the URL-encoded value that starts at `start` (and ends at the first `&` or
    /// `end`) under the raw (already URL-decoded) variable `name`; returns where it ended.
    package mutating func register(
        name rawName: UnsafeBufferPointer<UInt8>, encodedValueFrom start: UnsafePointer<UInt8>, to end: UnsafePointer<UInt8>,
        hex: UnsafePointer<UInt8>
    ) throws(FormError) -> UnsafePointer<UInt8> {
        let stored = arena.appendPercentDecoded(from: start, to: end, hex: hex)
        try register(name: rawName, value: stored.value)
        return stored.end
    }

    /// Registers the value already stored in the arena at `value` under `rawName`.
    private mutating func register(name rawName: UnsafeBufferPointer<UInt8>, value: (offset: Int, count: Int)) throws(FormError) {
        if rawName.count > limits.maxKeyBytes {
            throw .keyTooLong(prefix: String(decoding: rawName.prefix(32), as: UTF8.self), limit: limits.maxKeyBytes)
        }
        if value.count > limits.maxValueBytes {
            throw .valueTooLong(name: String(decoding: rawName, as: UTF8.self), limit: limits.maxValueBytes)
        }
        // PHP passes the name as a C string: a decoded %00 ends it.
        let end = ByteSearch.firstIndex(of: 0, in: rawName) ?? rawName.count
        var start = 0
        while start < end, rawName[start] == UInt8(ascii: " ") { start += 1 }  // leading spaces are ignored
        let name = UnsafeBufferPointer(rebasing: rawName[start..<end])
        guard phpNameMangling else { return try store(name: name, value: value) }
        var mangled = self.mangled
        self.mangled = []
        defer { self.mangled = mangled }
        mangled.removeAll(keepingCapacity: true)
        mangled.append(contentsOf: name)
        Self.mangle(&mangled)
        try mangled.withUnsafeBufferPointer { (name) throws(FormError) in try store(name: name, value: value) }
    }

    /// PHP's renaming: `.` and space in the top-level name become `_`; when the first `[`
    /// has no `]` after it, it and every `.`, space and `[` after it become `_` too.
    private static func mangle(_ name: inout [UInt8]) {
        let underscore = UInt8(ascii: "_")
        let bracket = name.firstIndex(of: UInt8(ascii: "[")) ?? name.count
        for position in 0..<bracket where name[position] == UInt8(ascii: " ") || name[position] == UInt8(ascii: ".") {
            name[position] = underscore
        }
        // A name that starts with `[` is dropped whole (empty name), so it is left as it is.
        guard bracket > 0, bracket < name.count, !name[(bracket + 1)...].contains(UInt8(ascii: "]")) else { return }
        name[bracket] = underscore
        for position in (bracket + 1)..<name.count
        where name[position] == UInt8(ascii: " ") || name[position] == UInt8(ascii: ".") || name[position] == UInt8(ascii: "[") {
            name[position] = underscore
        }
    }

    /// Registers a name that is final: NUL-cut, leading spaces gone, mangled if asked.
    private mutating func store(name: UnsafeBufferPointer<UInt8>, value: (offset: Int, count: Int)) throws(FormError) {
        guard let base = name.baseAddress else { return }  // empty name: PHP ignores the variable
        let end = name.count
        // The levels of the previous name's path that this name repeats byte for byte.
        var reusable = 0
        if pathCount > 0 {
            let common = previous.withUnsafeBufferPointer { previous in
                previous.baseAddress.map { ByteSearch.commonPrefix(base, $0, count: min(end, previousCount)) } ?? 0
            }
            while reusable < pathCount, through[reusable] <= common { reusable += 1 }
        }
        // Parse the indices first, so a name that is too deep stores nothing; an unmatched
        // `[` right after the name makes the whole name the key. A repeated prefix is not
        // parsed again: its indices are still in `segments`.
        let bracket: Int
        let nested: Bool
        if reusable > 0 {
            bracket = through[0] - 1
            if reusable == 1 {
                nested = try parseIndices(of: name, bracket: bracket, from: bracket, parsed: 0)
            } else {
                let after = segments[reusable - 2].end + 1
                if after < end, name[after] == UInt8(ascii: "[") {
                    nested = try parseIndices(of: name, bracket: bracket, from: after, parsed: reusable - 1)
                } else {
                    segmentCount = reusable - 1
                    nested = true
                }
            }
        } else {
            bracket = ByteSearch.firstIndex(of: UInt8(ascii: "["), in: name) ?? end
            if bracket == 0 { return }  // empty name: PHP ignores the variable
            nested = bracket < end ? try parseIndices(of: name, bracket: bracket, from: bracket, parsed: 0) : false
        }
        if !nested {
            pathCount = 0
            let key = arena.key(name)
            arena.setLeaf(key, in: FormArena.root, value: value)
            return
        }
        // Containers: the top-level name, then every index but the last; the last is the leaf.
        let containers = segmentCount
        let shared = min(reusable, containers)
        pathCount = shared
        if shared < containers {
            try createLevels(of: name, bracket: bracket, from: shared, to: containers)
            guard pathCount == containers else { return }
        }
        let container = path[containers - 1]
        let leaf = segments[containers - 1]
        if leaf.isAppend {
            arena.appendLeaf(in: container, value: value)
        } else {
            let key = arena.key(UnsafeBufferPointer(rebasing: name[leaf.start..<leaf.end]))
            arena.setLeaf(key, in: container, value: value)
        }
    }

    /// Finds or creates the arrays of levels `first..<containers` of `name`'s path (each in
    /// the one before), records them in `path` and the bytes they need in `previous`.
    private mutating func createLevels(of name: UnsafeBufferPointer<UInt8>, bracket: Int, from first: Int, to containers: Int) throws(FormError) {
        var appended = first > 0 && through[first - 1] == Int.max
        for level in first..<containers {
            let parent = level == 0 ? FormArena.root : path[level - 1]
            let key: FormArena.Key?
            let needed: Int
            if level == 0 {
                key = arena.key(UnsafeBufferPointer(rebasing: name[0..<bracket]))
                needed = bracket + 1
            } else {
                let segment = segments[level - 1]
                key = segment.isAppend ? nil : arena.key(UnsafeBufferPointer(rebasing: name[segment.start..<segment.end]))
                appended = appended || segment.isAppend
                needed = appended ? Int.max : segment.end + 1
            }
            let nested = arena.nestedArray(key, in: parent)
            // When a `[]` append fails (the next index is taken at `Int.max`), PHP drops
            // the value but keeps the levels it already created; so does this.
            guard let nested else { break }
            if pathCount < path.count {
                path[pathCount] = nested
                through[pathCount] = needed
            } else {
                path.append(nested)
                through.append(needed)
            }
            pathCount += 1
        }
        // The bytes the levels need, so the next name can be compared with them.
        var known = 0
        for level in 0..<pathCount where through[level] != Int.max { known = through[level] }
        if previous.count < known {
            previous.append(contentsOf: repeatElement(0, count: max(known, 2 * previous.count, 64) - previous.count))
        }
        previous.withUnsafeMutableBufferPointer { previous in
            // In bounds: `previous` holds at least `known` bytes, and `name` more than `known`.
            if let target = previous.baseAddress, let source = name.baseAddress { target.update(from: source, count: known) }
        }
        previousCount = known
    }

    /// Parses the `[…]` indices after the top-level name into `segments`.
    /// Returns false when the first bracket is unmatched. An unmatched later bracket,
    /// or text after a `]` that is not `[`, ends the path (PHP ignores the rest).
    ///
    /// Parsing starts at the `[` at `start` with the first `parsed` indices already in
    /// `segments` (the ones a name repeats from the previous one).
    ///
    /// Inline: it runs once per variable, and the call cost as much as parsing the one or two
    /// indices a repeated prefix leaves (500 fields: 2.6 % of decoding).
    @inline(__always)
    private mutating func parseIndices(of name: UnsafeBufferPointer<UInt8>, bracket: Int, from start: Int, parsed: Int) throws(FormError) -> Bool {
        segmentCount = parsed
        var cursor = start  // at a '['
        let end = name.count
        while true {
            if segmentCount + 1 > limits.maxDepth {
                throw .tooDeep(name: String(decoding: UnsafeBufferPointer(rebasing: name[0..<bracket]), as: UTF8.self), limit: limits.maxDepth)
            }
            cursor += 1
            let indexStart = cursor
            // PHP skips one `isspace()` byte here (space, \t, \n, \v, \f or \r), so `[\t]`
            // appends like `[]` and `[ ]`; only looking for ' ' made `a[%09]` a "\t" key.
            if cursor < end, Self.isCSpace(name[cursor]) { cursor += 1 }
            if cursor < end, name[cursor] == UInt8(ascii: "]") {
                addSegment(Segment(start: -1, end: -1))
            } else {
                var close = cursor
                while close < end, name[close] != UInt8(ascii: "]") { close += 1 }
                if close == end { return segmentCount > 0 }
                addSegment(Segment(start: indexStart, end: close))
                cursor = close
            }
            cursor += 1  // past ']'
            if cursor >= end || name[cursor] != UInt8(ascii: "[") { return true }
        }
    }

    private mutating func addSegment(_ segment: Segment) {
        if segmentCount < segments.count {
            segments[segmentCount] = segment
        } else {
            segments.append(segment)
        }
        segmentCount += 1
    }

    /// C's `isspace` in the "C" locale, which php_register_variable_ex uses.
    static func isCSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || (0x09...0x0D).contains(byte)
    }
}
