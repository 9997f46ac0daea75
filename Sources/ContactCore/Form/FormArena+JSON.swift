extension FormArena {
    /// Writes the key of `node` as an object key (`"42":` for an integer key).
    static func writeKey(of node: Node, in view: View, to writer: inout JSONWriter) {
        if node.hasIntegerKey {
            writer.key(int: node.key)
        } else {
            writer.key(bytes: view.keyBytes(node))
        }
    }

    /// Writes the value of node `id` as PHP's `json_encode` would (as `FormValue.write`
    /// does): a leaf as a string, an array whose keys are `0..n-1` in order as a list, any
    /// other as an object.
    static func writeValue(_ id: NodeID, in view: View, to writer: inout JSONWriter) {
        let node = view[id]
        guard node.isArray else {
            writer.string(bytes: view.valueBytes(node))
            return
        }
        let list = node.sequential
        if list { writer.beginArray() } else { writer.beginObject() }
        var child = node.first
        while child >= 0 {
            let entry = view[child]
            if !list { writeKey(of: entry, in: view, to: &writer) }
            writeValue(child, in: view, to: &writer)
            child = entry.next
        }
        if list { writer.endArray() } else { writer.endObject() }
    }

    /// The whole form as PHP's `json_encode($_POST)` renders it (`decode --raw`).
    package var phpJSON: String {
        var writer = JSONWriter(capacity: byteCount + 256)
        withView { view in Self.writeValue(Self.root, in: view, to: &writer) }
        return writer.string
    }
}
