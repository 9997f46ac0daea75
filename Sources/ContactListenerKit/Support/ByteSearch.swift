#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finding bytes in a buffer, with `memchr`: the form decoder's separators and brackets, the
/// FastCGI params' `=`, the multipart parser's boundaries and the JSON-lines handler's
/// in-doubt check share it.
enum ByteSearch {
    /// The first index of `byte` in `input[start..<end]` (`end` defaults to the whole buffer).
    @inline(__always)
    static func firstIndex(of byte: UInt8, in input: UnsafeBufferPointer<UInt8>, from start: Int = 0, to end: Int? = nil) -> Int? {
        let end = end ?? input.count
        guard end > start, let base = input.baseAddress, let found = memchr(base + start, Int32(byte), end - start) else { return nil }
        return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(found))
    }

    /// The first index of `needle` in `input` at or after `start`.
    static func firstIndex(of needle: [UInt8], in input: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard let first = needle.first, needle.count <= input.count else { return nil }
        var position = max(start, 0)
        let last = input.count - needle.count
        while position <= last {
            guard let candidate = firstIndex(of: first, in: input, from: position, to: last + 1) else { return nil }
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
