/// Finding a byte sequence in a buffer: the multipart parser's boundaries and the JSON-lines
/// handler's in-doubt check share it.
enum ByteSearch {
    /// The first index of `needle` in `input` at or after `start` (a plain scan: the first
    /// byte is searched with `memchr`-like speed by the standard library).
    static func firstIndex(of needle: [UInt8], in input: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard let first = needle.first, needle.count <= input.count else { return nil }
        var position = max(start, 0)
        let last = input.count - needle.count
        while position <= last {
            guard let candidate = input[position...last].firstIndex(of: first) else { return nil }
            var matched = true
            for offset in 1..<needle.count where input[candidate + offset] != needle[offset] {
                matched = false
                break
            }
            if matched { return candidate }
            position = candidate + 1
        }
        return nil
    }
}
