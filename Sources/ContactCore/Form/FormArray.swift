/// An insertion-ordered array with PHP's key rules (`HashTable` semantics).
///
/// Updating an existing key keeps its position; `append` uses PHP's next free index
/// (`nNextFreeElement`). Lookups are linear for small arrays and go through a
/// randomly seeded `Dictionary` once an array grows, so colliding keys can't flood it.
///
/// Keys and values live in one array of pairs: one allocation per nested array, not two
/// (a contact decodes into about 40 arrays).
public struct FormArray: Sendable, Equatable {
    /// The entries in insertion order.
    public private(set) var entries: [(key: FormKey, value: FormValue)] = []
    private var index: [FormKey: Int]? = nil
    /// True while the keys are exactly `0..<count` in order (a list: `fields`, every
    /// section): key `n` is then at position `n`, found without hashing (a 500-field
    /// contact would otherwise spend much of its decoding in the `fields` array's index).
    private var sequential = true
    /// PHP's `nNextFreeElement`; `Int.min` means "nothing inserted yet, next is 0".
    private var nextFree: Int = Int.min

    private static let indexThreshold = 12

    /// An empty array.
    public init() {}

    /// Builds an array from key/value pairs with PHP's update semantics.
    public init(_ pairs: [(FormKey, FormValue)]) {
        for (key, value) in pairs { self[key] = value }
    }

    /// The number of entries.
    public var count: Int { entries.count }

    /// True when the array has no entries.
    public var isEmpty: Bool { entries.isEmpty }

    /// The keys in insertion order (a copy: hot paths walk `entries`).
    public var keys: [FormKey] { entries.map(\.key) }

    /// The values in insertion order (a copy: hot paths walk `entries`).
    public var values: [FormValue] { entries.map(\.value) }

    /// True when the keys are exactly `0..<count` in order: PHP's `array_is_list`, which
    /// decides whether `json_encode` writes a JSON list or an object.
    public var isList: Bool { sequential }

    /// The position of `key`, if present.
    public func position(of key: FormKey) -> Int? {
        if sequential {
            guard case .int(let number) = key, number >= 0, number < entries.count else { return nil }
            return number
        }
        if let index { return index[key] }
        return entries.firstIndex { $0.key == key }
    }

    /// The value stored under `key`; setting one updates it in place or inserts it at the end.
    public subscript(key: FormKey) -> FormValue? {
        get { position(of: key).map { entries[$0].value } }
        set {
            guard let newValue else { return }  // PHP's form decoding never deletes
            if let position = position(of: key) {
                entries[position].value = newValue
            } else {
                insert(key, newValue)
            }
        }
    }

    /// The value stored under a string key, normalized as PHP would (`"0"` finds key 0).
    public subscript(name: String) -> FormValue? {
        self[FormKey(name)]
    }

    /// Appends `value` under the next free integer key, as `$a[] = value` does.
    /// Returns false, storing nothing, when PHP would fail (the next index is taken at `Int.max`).
    @discardableResult
    public mutating func append(_ value: FormValue) -> Bool {
        let key = FormKey.int(nextFree == Int.min ? 0 : nextFree)
        if position(of: key) != nil { return false }
        insert(key, value)
        return true
    }

    /// Takes the nested array under `key` out of this array, creating it (or replacing a
    /// leaf with an empty array) first, as PHP does for each `[…]` level of a name
    /// (php_register_variable_ex: `zend_symtable_str_find`, else `array_init` +
    /// `zend_symtable_str_update_ind`; a non-array is `array_init`ed in place).
    /// With a nil key it appends a new array (`zend_hash_next_index_insert`); returns nil
    /// when that append fails, storing nothing.
    ///
    /// The slot keeps a placeholder until `reattach(_:at:)` puts the array back, so the
    /// detached array stays uniquely referenced while it changes (no copy on write). The
    /// builder walks a name level by level with these instead of recursing, so a deep name
    /// costs no stack.
    mutating func detachNestedArray(at key: FormKey?) -> (position: Int, key: FormKey, array: FormArray)? {
        // A new slot gets the placeholder straight away: the array is built detached.
        if let key {
            guard let existing = self.position(of: key) else {
                insert(key, .string(""))
                return (entries.count - 1, key, FormArray())
            }
            var nested = FormArray()
            if case .array(let array) = entries[existing].value { nested = array }
            entries[existing].value = .string("")  // drop our reference: `nested` is now the only one
            return (existing, key, nested)
        }
        guard append(.string("")) else { return nil }
        return (entries.count - 1, entries[entries.count - 1].key, FormArray())
    }

    /// Puts back an array taken out by `detachNestedArray(at:)`.
    mutating func reattach(_ nested: consuming FormArray, at position: Int) {
        entries[position].value = .array(nested)
    }

    /// Recursively merges `other` into this array (PHP's `php_autoglobal_merge`).
    package mutating func merge(_ other: FormArray) {
        for (key, value) in other.entries {
            if case .array = value, let position = position(of: key), case .array = entries[position].value {
                entries[position].value.merge(value)
            } else {
                self[key] = value
            }
        }
    }

    private mutating func insert(_ key: FormKey, _ value: consuming FormValue) {
        // Most arrays of a contact are records of 2–4 keys: one allocation, not three.
        if entries.capacity == 0 { entries.reserveCapacity(4) }
        if case .int(let number) = key, number >= nextFree {
            nextFree = number < Int.max ? number + 1 : Int.max
        }
        if sequential, key != .int(entries.count) { sequential = false }
        entries.append((key, value))
        if sequential { return }
        if index != nil {
            index?[key] = entries.count - 1
        } else if entries.count > FormArray.indexThreshold {
            var built = [FormKey: Int](minimumCapacity: entries.count * 2)
            for position in entries.indices { built[entries[position].key] = position }
            index = built
        }
    }

    /// Order-sensitive equality: same keys and values in the same order.
    public static func == (lhs: FormArray, rhs: FormArray) -> Bool {
        lhs.entries.count == rhs.entries.count
            && zip(lhs.entries, rhs.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}
