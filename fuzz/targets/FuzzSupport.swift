// Shared by the fuzz targets (compiled into each).

enum FuzzSupport {
    /// Maps a tree to an event in both modes and renders it, as the pipeline would; the
    /// stored JSON must read back as the same event (the spool delivers what it reads).
    static func mapToEvent(_ form: FormArray) {
        for mode in [EventMode.structured, .shortcode] {
            let metadata = EventMetadata(receivedAt: "2026-01-01T00:00:00.000Z", remoteAddress: nil, requestID: "fuzz", method: "POST", mode: mode)
            if let event = try? ContactEvent(form: form, metadata: metadata) {
                let json = event.json
                do {
                    let restored = try ContactEvent(storedJSON: Array(json.utf8))
                    if restored != event { fatalError("stored JSON read back as a different event: \(json)") }
                } catch {
                    fatalError("stored JSON can't be read back (\(error)): \(json)")
                }
            }
        }
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
