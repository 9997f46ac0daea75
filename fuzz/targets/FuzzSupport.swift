// Shared by the fuzz targets (compiled into each).

enum FuzzSupport {
    /// Writes the event as the request path does, in both modes, from the arena; the JSON
    /// must read back as an event that writes the same bytes (the spool and the handlers
    /// read it back), and the arena must print as the tree made from it prints.
    static func mapToEvent(_ arena: FormArena) {
        let direct = arena.phpJSON
        let tree = arena.tree()
        if direct != tree.phpJSON { fatalError("the arena prints \(direct), its tree \(tree.phpJSON)") }
        for mode in [EventMode.structured, .shortcode] {
            let metadata = EventMetadata(receivedAt: "2026-01-01T00:00:00.000Z", remoteAddress: nil, requestID: "fuzz", method: "POST", mode: mode)
            guard let output = try? EventEncoder.encode(arena, metadata: metadata) else { continue }
            let json = String(decoding: output.json, as: UTF8.self)
            do {
                let restored = try ContactEvent(storedJSON: output.json)
                if restored.json != json { fatalError("stored JSON read back as a different event: \(json)") }
            } catch {
                fatalError("stored JSON can't be read back (\(error)): \(json)")
            }
        }
    }

    /// The same for a tree (the JSON body decoder's).
    static func mapToEvent(_ form: FormArray) {
        mapToEvent(FormArena(tree: form))
    }

    /// A body from memory, handed out in small pieces like a socket would.
    struct BufferSource: BodySource {
        var bytes: [UInt8]
        var offset = 0

        mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(RequestError) -> Int {
            let count = min(buffer.count, bytes.count - offset, 4096)
            if count <= 0 { return 0 }
            bytes.withUnsafeBytes { source in
                buffer.baseAddress?.copyMemory(from: source.baseAddress! + offset, byteCount: count)
            }
            offset += count
            return count
        }
    }
}
