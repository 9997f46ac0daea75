#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The CGI/FastCGI parameters of one request (`REQUEST_METHOD`, `QUERY_STRING`, `HTTP_*`
/// headers, …), kept as the `NAME=value` bytes the web server sent and looked up by name
/// when asked.
///
/// A request from nginx carries 20–40 parameters of which the pipeline reads a handful.
/// Copying them into a `[String: String]` makes two Strings and a hashed insert of each,
/// a visible share of a request (BENCHMARKS.md); this keeps one byte buffer and an offset
/// table. A name sent twice is found as its last value, as a dictionary kept it.
package struct RequestParameters: Sendable, Sequence, ExpressibleByDictionaryLiteral {
    private var bytes: [UInt8] = []
    private var entries: [Entry] = []

    /// One parameter's place in `bytes`: the name is `start..<equals`, the value `equals+1..<end`.
    private struct Entry: Sendable {
        var start: Int
        var equals: Int
        var end: Int
    }

    /// No parameters.
    package init() {}

    /// The parameters of a dictionary (tests, the CGI environment, `decode`).
    package init(_ dictionary: [String: String]) {
        for (name, value) in dictionary { append(name: name, value: value) }
    }

    /// The parameters of a literal: `["REQUEST_METHOD": "POST"]`.
    package init(dictionaryLiteral elements: (String, String)...) {
        for (name, value) in elements { append(name: name, value: value) }
    }

    /// Makes room for `count` parameters of `bytes` bytes in total.
    package mutating func reserveCapacity(count: Int, bytes size: Int) {
        entries.reserveCapacity(count)
        bytes.reserveCapacity(size)
    }

    /// Appends one `NAME=value` entry as the web server sent it; one without `=` is ignored.
    package mutating func append(entry: UnsafeRawBufferPointer) {
        guard let equals = ByteSearch.firstIndex(of: UInt8(ascii: "="), in: entry.assumingMemoryBound(to: UInt8.self)) else { return }
        let start = bytes.count
        bytes.append(contentsOf: entry)
        entries.append(Entry(start: start, equals: start + equals, end: bytes.count))
    }

    /// Appends a parameter; it hides an earlier one of the same name.
    package mutating func append(name: String, value: String) {
        let start = bytes.count
        bytes.append(contentsOf: name.utf8)
        let equals = bytes.count
        bytes.append(UInt8(ascii: "="))
        bytes.append(contentsOf: value.utf8)
        entries.append(Entry(start: start, equals: equals, end: bytes.count))
    }

    /// The value of the parameter `name`, or nil. Setting one replaces it (nil removes it).
    package subscript(name: String) -> String? {
        get {
            guard let entry = find(name) else { return nil }
            return bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[(entry.equals + 1)..<entry.end]), as: UTF8.self) }
        }
        set {
            while let position = position(of: name) { entries.remove(at: position) }
            if let newValue { append(name: name, value: newValue) }
        }
    }

    /// The number of entries as sent.
    package var count: Int { entries.count }

    /// The bytes of every name and value, plus two per parameter (`=` and a terminator),
    /// which is what `limits.max_header_bytes` counts.
    package var size: Int { bytes.count + entries.count }

    /// The parameters in the order sent, as `(name, value)`.
    package func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        bytes.withUnsafeBufferPointer { all in
            entries.map { entry in
                (String(decoding: UnsafeBufferPointer(rebasing: all[entry.start..<entry.equals]), as: UTF8.self),
                 String(decoding: UnsafeBufferPointer(rebasing: all[(entry.equals + 1)..<entry.end]), as: UTF8.self))
            }
        }.makeIterator()
    }

    /// The parameters as a dictionary (the last of a repeated name wins).
    package var dictionary: [String: String] {
        var result: [String: String] = [:]
        for (name, value) in self { result[name] = value }
        return result
    }

    private func find(_ name: String) -> Entry? {
        position(of: name).map { entries[$0] }
    }

    /// The position in `entries` of the last parameter called `name`.
    private func position(of name: String) -> Int? {
        var name = name
        return name.withUTF8 { key in
            bytes.withUnsafeBufferPointer { all in
                var position = entries.count - 1
                while position >= 0 {
                    let entry = entries[position]
                    if entry.equals - entry.start == key.count {
                        if key.isEmpty { return position }
                        if let lhs = all.baseAddress, let rhs = key.baseAddress,
                           memcmp(lhs + entry.start, rhs, key.count) == 0 {
                            return position
                        }
                    }
                    position -= 1
                }
                return nil
            }
        }
    }
}
