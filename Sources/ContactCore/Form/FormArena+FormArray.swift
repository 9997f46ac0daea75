extension FormArena {
    /// The form as a `FormArray` tree (for a query merged with a body, the tests and the
    /// fuzzers): the same keys, values and order.
    package func tree() -> FormArray {
        withView { view in Self.array(at: Self.root, in: view) }
    }

    private static func array(at id: NodeID, in view: View) -> FormArray {
        var array = FormArray()
        var child = view[id].first
        while child >= 0 {
            let node = view[child]
            array[view.formKey(node)] = node.isArray ? .array(Self.array(at: child, in: view)) : .string(view.string(node))
            child = node.next
        }
        return array
    }

    /// The arena holding `tree` (a JSON body, or a query merged with a body).
    package init(tree: FormArray) {
        self.init()
        add(tree, to: Self.root)
    }

    private mutating func add(_ array: FormArray, to parent: NodeID) {
        for (key, value) in array.entries {
            // A string key's bytes are copied out first: the arena's own buffer grows.
            let keyBytes: [UInt8] = if case .string(let text) = key { Array(text.utf8) } else { [] }
            keyBytes.withUnsafeBufferPointer { keyBuffer in
                let resolved: Key = if case .int(let number) = key { .int(number) } else { .bytes(keyBuffer) }
                switch value {
                case .string(var text):
                    let stored = text.withUTF8 { appendBytes($0) }
                    setLeaf(resolved, in: parent, value: stored)
                case .array(let nested):
                    if let child = nestedArray(resolved, in: parent) { add(nested, to: child) }
                }
            }
        }
    }
}
