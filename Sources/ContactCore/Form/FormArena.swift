/// A decoded form held flat: every array and leaf is a `Node` in one array, every key and
/// value a byte range in one byte buffer. It has the semantics of PHP's `HashTable` as
/// `php_register_variable_ex` fills it (see `FormArray`, which is the same tree built of
/// Swift values): insertion order, integer-normalized keys, `nNextFreeElement` for `[]`,
/// updates in place.
///
/// Why flat: a contact is about 150 variables. Built as `FormArray`s it costs a heap
/// object, a String and a reference count per variable; here it costs two appends to
/// arrays that were sized for the body once. `EventEncoder` writes the event's JSON
/// straight from these ranges, and `tree()` gives the `FormArray` when one is needed.
///
/// Every byte range holds valid UTF-8: bytes are repaired as `String(decoding:as:)` does
/// (U+FFFD for each invalid sequence) when they are stored, so a value reads back the same
/// here as from a `FormArray`.
package struct FormArena: Sendable {
    /// A node's place in `nodes`.
    package typealias NodeID = Int32

    /// One array or leaf.
    package struct Node: Sendable {
        /// The integer key, or the string key's offset in the byte buffer.
        var key: Int
        /// The string key's length; -1 for an integer key.
        var keyLength: Int32
        /// The next sibling in insertion order; -1 for the last.
        var next: NodeID = -1
        /// A leaf: the value's offset in the byte buffer. An array: PHP's `nNextFreeElement`
        /// (`Int.min` before any integer key).
        var value: Int = 0
        /// A leaf: the value's length. An array: -1.
        var valueLength: Int = 0
        /// An array: its first and last child (-1 when empty) and how many it has.
        var first: NodeID = -1
        var last: NodeID = -1
        var count: Int32 = 0
        /// An array: an id of its own, which the lookup index keys children by (a node that
        /// becomes a new array gets a new id, so the old array's children are never found).
        var arrayID: Int32 = 0
        /// An array: true while its keys are exactly `0..<count` in order.
        var sequential = true
        /// An array: true once its children are in the lookup index.
        var indexed = false
        /// An array that is a list past `linearLimit` children: its slot in `lists`, where
        /// child *n* is found at position *n*; -1 otherwise.
        var list: Int32 = -1

        /// True for an array, false for a leaf.
        package var isArray: Bool { valueLength < 0 }
        /// True when the key is an integer.
        package var hasIntegerKey: Bool { keyLength < 0 }
    }

    /// A key to look up or insert: an integer, or string bytes that are valid UTF-8 and
    /// not a canonical integer (`FormKey`'s normal form).
    package enum Key {
        /// An integer key.
        case int(Int)
        /// String key bytes outside the arena.
        case bytes(UnsafeBufferPointer<UInt8>)
        /// String key bytes already in the arena's buffer (a repaired key).
        case stored(offset: Int, count: Int)
    }

    /// The nodes; node 0 is the top-level array.
    package private(set) var nodes: [Node]
    /// The bytes of every key and value: the first `byteCount` of `storage`, which is
    /// allocated ahead (not zeroed) and written through a pointer, so an append is a `memcpy`
    /// and no generic `append(contentsOf:)` (about 100 instructions each, twice per variable).
    private var storage: [UInt8]
    /// How many bytes of `storage` hold keys and values.
    package private(set) var byteCount = 0
    /// Open addressing over (array id, key) for arrays past `linearLimit` children.
    private var slots: [Slot] = []
    /// The children of each long list, in order (`Node.list`): entry *n* of a list is found
    /// at position *n*, with no hashing (a contact's `fields`, and every overwrite of one).
    private var lists: [[NodeID]] = []
    private var slotsUsed = 0
    private var arrays: Int32 = 1

    /// Children of an array are found by walking them up to this many; beyond it, through
    /// the index (a seeded hash, so colliding keys can't be forced). A walk compares lengths
    /// first and costs a few instructions per child, less than hashing the key: 16 keeps a
    /// contact's top level (about 10 sections) and its arrays out of the index (8 put the
    /// top level in it: 7,000 instructions more per realistic payload, bench/profile).
    private static let linearLimit: Int32 = 16

    private struct Slot: Sendable {
        var hash: Int
        var node: NodeID
    }

    /// The top-level array.
    package static let root: NodeID = 0

    /// An empty form, with room for a body of `capacity` bytes.
    package init(capacity: Int = 0) {
        nodes = []
        // About one node per 25 bytes of a form body; its values and keys are at most the body's.
        nodes.reserveCapacity(max(8, capacity / 24))
        // Not zeroed: only the first `byteCount` bytes are ever read, and each is written first.
        storage = [UInt8](unsafeUninitializedCapacity: max(64, capacity)) { _, initialized in initialized = max(64, capacity) }
        nodes.append(Node(key: 0, keyLength: -1, value: Int.min, valueLength: -1, arrayID: 0))
    }

    /// The node `id`.
    @inline(__always)
    package subscript(id: NodeID) -> Node { nodes[Int(id)] }

    /// The arena read through unsafe pointers, for the writers' loops (no reference
    /// counting per node or per value). Valid only inside `withView`.
    package struct View {
        /// The nodes.
        package let nodes: UnsafeBufferPointer<Node>
        /// The start of the byte buffer (nil while it is empty).
        package let bytes: UnsafePointer<UInt8>?

        /// The node `id`.
        @inline(__always)
        package subscript(id: NodeID) -> Node { nodes[Int(id)] }

        /// The string key's bytes of `node` (empty for an integer key).
        @inline(__always)
        package func keyBytes(_ node: Node) -> UnsafeBufferPointer<UInt8> {
            node.keyLength <= 0 ? UnsafeBufferPointer(start: nil, count: 0) : UnsafeBufferPointer(start: bytes.map { $0 + node.key }, count: Int(node.keyLength))
        }

        /// The leaf value's bytes of `node`.
        @inline(__always)
        package func valueBytes(_ node: Node) -> UnsafeBufferPointer<UInt8> {
            node.valueLength <= 0 ? UnsafeBufferPointer(start: nil, count: 0) : UnsafeBufferPointer(start: bytes.map { $0 + node.value }, count: node.valueLength)
        }

        /// The leaf value of `node` as a String.
        package func string(_ node: Node) -> String {
            String(decoding: valueBytes(node), as: UTF8.self)
        }

        /// The key of `node`.
        package func formKey(_ node: Node) -> FormKey {
            node.hasIntegerKey ? .int(node.key) : .string(String(decoding: keyBytes(node), as: UTF8.self))
        }
    }

    /// Calls `body` with a view of the arena.
    package func withView<R, E: Error>(_ body: (View) throws(E) -> R) throws(E) -> R {
        try nodes.withUnsafeBufferPointer { (nodes) throws(E) -> R in
            try storage.withUnsafeBufferPointer { (bytes) throws(E) -> R in try body(View(nodes: nodes, bytes: bytes.baseAddress)) }
        }
    }

    // MARK: Bytes

    /// `raw` as a key: a canonical integer, the bytes themselves when they are valid UTF-8,
    /// else their repair (as `FormKey(bytes:)` repairs them), stored in the buffer.
    @inline(__always)
    package mutating func key(_ raw: UnsafeBufferPointer<UInt8>) -> Key {
        // Only a key that starts with a digit or `-` can be an integer: most are names, and
        // this test is cheaper than the call.
        if let first = raw.first, first &- UInt8(ascii: "0") < 10 || first == UInt8(ascii: "-"),
           let number = FormKey.canonicalInteger(raw) {
            return .int(number)
        }
        if UTF8Validation.isValid(raw) { return .bytes(raw) }
        let stored = appendBytes(raw)
        return .stored(offset: stored.offset, count: stored.count)
    }

    /// Makes room for `count` more bytes; returns where they start.
    @inline(__always)
    private mutating func reserveBytes(_ count: Int) -> Int {
        let offset = byteCount
        if offset + count > storage.count {
            storage.append(contentsOf: repeatElement(0, count: max(offset + count, storage.count * 2) - storage.count))
        }
        byteCount = offset + count
        return offset
    }

    /// Copies `raw` (non-empty) to `offset`.
    @inline(__always)
    private mutating func copy(_ raw: UnsafeBufferPointer<UInt8>, to offset: Int) {
        storage.withUnsafeMutableBufferPointer { all in
            (all.baseAddress! + offset).update(from: raw.baseAddress!, count: raw.count)
        }
    }

    /// Appends `raw` as it is; returns its offset and length.
    @inline(__always)
    private mutating func appendUnchecked(_ raw: UnsafeBufferPointer<UInt8>) -> (offset: Int, count: Int) {
        let offset = reserveBytes(raw.count)
        if !raw.isEmpty { copy(raw, to: offset) }
        return (offset, raw.count)
    }

    /// Appends `raw`, repaired to valid UTF-8; returns its offset and length.
    package mutating func appendBytes(_ raw: UnsafeBufferPointer<UInt8>) -> (offset: Int, count: Int) {
        if UTF8Validation.isValid(raw) { return appendUnchecked(raw) }
        let repaired = Array(String(decoding: raw, as: UTF8.self).utf8)
        return repaired.withUnsafeBufferPointer { appendUnchecked($0) }
    }

    /// Appends the URL-encoded value from `start` up to the first `&` (or `end`),
    /// percent-decoded as PHP's `php_url_decode` does, then repaired to valid UTF-8;
    /// returns its offset and length, and where it ended.
    package mutating func appendPercentDecoded(
        from start: UnsafePointer<UInt8>, to end: UnsafePointer<UInt8>, hex: UnsafePointer<UInt8>
    ) -> (value: (offset: Int, count: Int), end: UnsafePointer<UInt8>) {
        // Room for the rest of the input: decoding never lengthens, and `decodeRun` writes
        // whole words only within that room. The unused part is given back below.
        let offset = reserveBytes(end - start)
        let decoded = storage.withUnsafeMutableBufferPointer { all in
            // In bounds: `reserveBytes` made `offset + (end - start)` at most `all.count`.
            all.baseAddress.map {
                URLEncodedFormDecoder.decodeRun(from: start, to: end, into: $0 + offset, hex: hex, stopAtEquals: false)
            }
        }
        guard let run = decoded else {
            // Unreachable: the buffer always holds at least 64 bytes.
            byteCount = offset
            return ((offset, 0), end)
        }
        byteCount = offset + run.count
        if run.nonASCII {
            let valid = storage.withUnsafeBufferPointer { all in
                UTF8Validation.isValid(UnsafeBufferPointer(rebasing: all[offset..<(offset + run.count)]))
            }
            if !valid {
                let repaired = Array(String(decoding: storage[offset..<byteCount], as: UTF8.self).utf8)
                byteCount = offset
                return (repaired.withUnsafeBufferPointer { appendUnchecked($0) }, run.end)
            }
        }
        return ((offset, run.count), run.end)
    }

    // MARK: PHP's array operations

    /// The child of `array` under `key`, if any.
    ///
    /// `find` and `insert` are inline: they run once or twice per variable, and their calls
    /// measured 2 % of decoding a 500-field contact (bench/profile).
    @inline(__always)
    package func find(_ key: Key, in array: NodeID) -> NodeID? {
        nodes.withUnsafeBufferPointer { nodes in
            // In bounds: `array`, its children and their `next` links are ids of nodes in the array.
            let parent = nodes[Int(array)]
            if parent.count == 0 { return nil }
            if parent.sequential {
                // Keys are 0..<count in order: only an integer key in range can be there.
                guard case .int(let number) = key, number >= 0, number < Int(parent.count) else { return nil }
                if number == Int(parent.count) - 1 { return parent.last }
                if parent.list >= 0 { return lists[Int(parent.list)][number] }
            }
            if parent.indexed {
                return lookup(key, arrayID: parent.arrayID)
            }
            var child = parent.first
            while child >= 0 {
                if matches(nodes[Int(child)], key) { return child }
                child = nodes[Int(child)].next
            }
            return nil
        }
    }

    /// Sets `array[key]` to a leaf (an existing entry keeps its position; an array there is
    /// replaced, as PHP replaces it).
    package mutating func setLeaf(_ key: Key, in array: NodeID, value: (offset: Int, count: Int)) {
        if let existing = find(key, in: array) {
            nodes.withUnsafeMutableBufferPointer { nodes in
                // In bounds: `find` returned the id of a node in the array.
                nodes[Int(existing)].value = value.offset
                nodes[Int(existing)].valueLength = value.count
            }
        } else {
            _ = insert(key, in: array, leaf: value)
        }
    }

    /// `$array[] = value`: the next free integer key. Returns false, storing nothing, when
    /// PHP would fail (that key is taken at `Int.max`).
    @discardableResult
    package mutating func appendLeaf(in array: NodeID, value: (offset: Int, count: Int)) -> Bool {
        guard let key = nextFreeKey(of: array) else { return false }
        _ = insert(.int(key), in: array, leaf: value)
        return true
    }

    /// The array under `array[key]` (nil key: a new appended one), created if missing, and
    /// made an empty array in place if a leaf was there (PHP's `array_init` on the slot).
    /// Nil when an append fails.
    package mutating func nestedArray(_ key: Key?, in array: NodeID) -> NodeID? {
        let resolved: Key
        if let key {
            if let existing = find(key, in: array) {
                if !nodes[Int(existing)].isArray { makeArray(existing) }
                return existing
            }
            resolved = key
        } else {
            guard let next = nextFreeKey(of: array) else { return nil }
            resolved = .int(next)
        }
        let created = insert(resolved, in: array, leaf: (0, 0))
        makeArray(created)
        return created
    }

    private func nextFreeKey(of array: NodeID) -> Int? {
        let next = nodes[Int(array)].value
        let key = next == Int.min ? 0 : next
        return find(.int(key), in: array) == nil ? key : nil
    }

    private mutating func makeArray(_ id: NodeID) {
        let index = Int(id)
        nodes[index].value = Int.min
        nodes[index].valueLength = -1
        nodes[index].first = -1
        nodes[index].last = -1
        nodes[index].count = 0
        nodes[index].sequential = true
        nodes[index].indexed = false
        nodes[index].list = -1
        nodes[index].arrayID = arrays
        arrays &+= 1
    }

    @inline(__always)
    private mutating func insert(_ key: Key, in array: NodeID, leaf value: (offset: Int, count: Int)) -> NodeID {
        let id = NodeID(truncatingIfNeeded: nodes.count)
        var node = Node(key: 0, keyLength: -1, value: value.offset, valueLength: value.count)
        var integer: Int? = nil
        switch key {
        case .int(let number):
            node.key = number
            integer = number
        case .bytes(let raw):
            node.key = appendUnchecked(raw).offset
            node.keyLength = Int32(truncatingIfNeeded: raw.count)
        case .stored(let offset, let count):
            node.key = offset
            node.keyLength = Int32(truncatingIfNeeded: count)
        }
        nodes.append(node)
        // The parent's bookkeeping in place, with one exclusive access to the nodes.
        let parent = nodes.withUnsafeMutableBufferPointer { nodes -> Node in
            // In bounds: `array` and its `last` child are ids of nodes in the array.
            let parent = Int(array)
            if let integer, integer >= nodes[parent].value {
                nodes[parent].value = integer < Int.max ? integer + 1 : Int.max
            }
            if nodes[parent].sequential, integer != Int(nodes[parent].count) { nodes[parent].sequential = false }
            let last = nodes[parent].last
            if last >= 0 { nodes[Int(last)].next = id } else { nodes[parent].first = id }
            nodes[parent].last = id
            nodes[parent].count += 1
            return nodes[parent]
        }
        let arrayID = parent.arrayID
        let parentIndex = Int(array)
        if parent.list >= 0 {
            if parent.sequential {
                lists[Int(parent.list)].append(id)
                return id
            }
            // No longer a list: its children go to the index.
            nodes[parentIndex].list = -1
            nodes[parentIndex].indexed = true
            indexChildren(of: parentIndex, arrayID: arrayID)
        } else if parent.indexed {
            addToIndex(id, arrayID: arrayID)
        } else if parent.count > Self.linearLimit {
            if parent.sequential {
                nodes[parentIndex].list = Int32(truncatingIfNeeded: lists.count)
                var children: [NodeID] = []
                children.reserveCapacity(Int(parent.count) * 2)
                var child = parent.first
                while child >= 0 {
                    children.append(child)
                    child = nodes[Int(child)].next
                }
                lists.append(children)
            } else {
                nodes[parentIndex].indexed = true
                indexChildren(of: parentIndex, arrayID: arrayID)
            }
        }
        return id
    }

    // MARK: The index

    private mutating func indexChildren(of parentIndex: Int, arrayID: Int32) {
        var child = nodes[parentIndex].first
        while child >= 0 {
            addToIndex(child, arrayID: arrayID)
            child = nodes[Int(child)].next
        }
    }

    private func matches(_ node: Node, _ key: Key) -> Bool {
        switch key {
        case .int(let number):
            return node.keyLength < 0 && node.key == number
        case .bytes(let raw):
            guard Int(node.keyLength) == raw.count else { return false }
            guard let other = raw.baseAddress else { return true }  // both empty
            return storage.withUnsafeBufferPointer { all in
                // In bounds: a node's key is a range of the stored bytes.
                all.baseAddress.map { ByteSearch.commonPrefix($0 + node.key, other, count: raw.count) == raw.count } ?? false
            }
        case .stored(let offset, let count):
            guard Int(node.keyLength) == count else { return false }
            if count == 0 { return true }
            return storage.withUnsafeBufferPointer { all in
                // In bounds: both are ranges of the stored bytes.
                all.baseAddress.map { ByteSearch.commonPrefix($0 + node.key, $0 + offset, count: count) == count } ?? false
            }
        }
    }

    private func hash(_ key: Key, arrayID: Int32) -> Int {
        var hasher = Hasher()
        hasher.combine(arrayID)
        switch key {
        case .int(let number):
            hasher.combine(0 as UInt8)
            hasher.combine(number)
        case .bytes(let raw):
            hasher.combine(1 as UInt8)
            hasher.combine(bytes: UnsafeRawBufferPointer(raw))
        case .stored(let offset, let count):
            hasher.combine(1 as UInt8)
            storage.withUnsafeBufferPointer { all in
                hasher.combine(bytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: all[offset..<(offset + count)])))
            }
        }
        return hasher.finalize()
    }

    private func lookup(_ key: Key, arrayID: Int32) -> NodeID? {
        let hash = hash(key, arrayID: arrayID)
        let mask = slots.count - 1
        var position = hash & mask
        while true {
            let slot = slots[position]
            if slot.node < 0 { return nil }
            if slot.hash == hash, matches(nodes[Int(slot.node)], key) { return slot.node }
            position = (position + 1) & mask
        }
    }

    private mutating func addToIndex(_ id: NodeID, arrayID: Int32) {
        if (slotsUsed + 1) * 2 > slots.count { growIndex() }
        let node = nodes[Int(id)]
        let hash = self.hash(node.hasIntegerKey ? .int(node.key) : .stored(offset: node.key, count: Int(node.keyLength)), arrayID: arrayID)
        place(Slot(hash: hash, node: id))
        slotsUsed += 1
    }

    private mutating func place(_ slot: Slot) {
        let mask = slots.count - 1
        var position = slot.hash & mask
        while slots[position].node >= 0 { position = (position + 1) & mask }
        slots[position] = slot
    }

    private mutating func growIndex() {
        let old = slots
        slots = Array(repeating: Slot(hash: 0, node: -1), count: max(64, old.count * 2))
        for slot in old where slot.node >= 0 { place(slot) }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
