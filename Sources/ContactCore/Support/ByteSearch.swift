#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finding bytes in a buffer, with `memchr`: the form decoder's separators and brackets, the
/// FastCGI params' `=`, the multipart parser's boundaries and the JSON-lines handler's
/// in-doubt check share it; and comparing two buffers' leading bytes (the form builder's
/// names and the arena's keys).
package enum ByteSearch {
    /// The first index of `byte` in `input[start..<end]` (`end` defaults to the whole buffer).
    @inline(__always)
    package static func firstIndex(of byte: UInt8, in input: UnsafeBufferPointer<UInt8>, from start: Int = 0, to end: Int? = nil) -> Int? {
        let end = end ?? input.count
        guard end > start, let base = input.baseAddress, let found = memchr(base + start, Int32(byte), end - start) else { return nil }
        return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(found))
    }

    /// How many leading bytes `a` and `b` share, of their first `count` (both hold at least
    /// `count`); compared 8 at a time, inline: a form's keys are a few bytes long, shorter
    /// than a `memcmp` call costs.
    @inline(__always)
    package static func commonPrefix(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, count: Int) -> Int {
        var position = 0
        // In bounds: a word is read only while 8 of the `count` bytes remain.
        while count - position >= 8 {
            let difference = UnsafeRawPointer(a + position).loadUnaligned(as: UInt64.self)
                ^ UnsafeRawPointer(b + position).loadUnaligned(as: UInt64.self)
            if difference != 0 { return position + UInt64(littleEndian: difference).trailingZeroBitCount >> 3 }
            position += 8
        }
        while position < count, a[position] == b[position] { position += 1 }
        return position
    }

    /// The first index of `needle` in `input` at or after `start`, in time linear in the
    /// input whatever the needle (a multipart boundary is the client's choice).
    ///
    /// Knuth–Morris–Pratt: after a partial match the longest proper prefix of the needle
    /// that is also a suffix of what matched is kept, so no byte is looked at twice; and
    /// with nothing matched, `memchr` skips to the next occurrence of the first byte, so a
    /// body without near-matches is scanned at `memchr` speed. (A plain "find the first
    /// byte, compare the rest" costs input × needle on input like `-------…`.)
    package static func firstIndex(of needle: [UInt8], in input: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard let first = needle.first, needle.count <= input.count else { return nil }
        let fallback = failureTable(needle)
        var position = max(start, 0)
        var matched = 0
        while position < input.count {
            if matched == 0 {
                guard let candidate = firstIndex(of: first, in: input, from: position) else { return nil }
                position = candidate + 1
                matched = 1
            } else {
                let byte = input[position]
                while matched > 0 && byte != needle[matched] { matched = fallback[matched - 1] }
                if byte == needle[matched] { matched += 1 }
                position += 1
            }
            if matched == needle.count { return position - needle.count }
        }
        return nil
    }

    /// KMP's table: entry i is the length of the longest proper prefix of `needle[0...i]`
    /// that is also its suffix.
    private static func failureTable(_ needle: [UInt8]) -> [Int] {
        var table = [Int](repeating: 0, count: needle.count)
        var length = 0
        var index = 1
        while index < needle.count {
            if needle[index] == needle[length] {
                length += 1
                table[index] = length
                index += 1
            } else if length > 0 {
                length = table[length - 1]
            } else {
                index += 1
            }
        }
        return table
    }
}
