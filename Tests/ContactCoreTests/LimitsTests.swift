import Testing
@testable import ContactCore

/// The limits on multipart parts and on the size of the request's parameters.
@Suite("Limits: multipart parts and header bytes")
struct LimitsTests {
    struct Bytes: BodySource {
        var bytes: [UInt8]
        mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(RequestError) -> Int {
            let count = min(buffer.count, bytes.count)
            buffer.copyBytes(from: bytes.prefix(count))
            bytes.removeFirst(count)
            return count
        }
    }

    static func multipart(parts: Int) -> [UInt8] {
        var body = ""
        for index in 0..<parts {
            body += "--b\r\nContent-Disposition: form-data; name=\"f\(index)\"\r\n\r\nv\r\n"
        }
        return Array((body + "--b--\r\n").utf8)
    }

    @Test("multipart: at the limit decodes, one more part is refused as a size limit", arguments: [(3, true), (4, false)])
    func parts(count: Int, accepted: Bool) throws {
        var limits = FormLimits.default
        limits.maxParts = 3
        let body = Self.multipart(parts: count)
        if accepted {
            let form = try MultipartFormDecoder(limits: limits).decode(body, boundary: "b")
            #expect(form.count == count)
        } else {
            #expect(throws: FormError.tooManyParts(limit: 3)) { try MultipartFormDecoder(limits: limits).decode(body, boundary: "b") }
            #expect(FormError.tooManyParts(limit: 3).isSizeLimit)
            #expect(FormError.tooManyParts(limit: 3).description.contains("limits.max_parts"))
        }
    }

    @Test("parameters over max_header_bytes are refused before the body is read", arguments: [(100, true), (10_000, false)])
    func headerBytes(size: Int, accepted: Bool) throws {
        let params = ["REQUEST_METHOD": "POST", "CONTENT_LENGTH": "3", "HTTP_X_PADDING": String(repeating: "x", count: size)]
        var source = Bytes(bytes: Array("a=1".utf8))
        if accepted {
            let request = try Request.read(params: params, body: &source, maxBodyBytes: 1 << 20, maxHeaderBytes: 4096)
            #expect(request.body == Array("a=1".utf8))
        } else {
            #expect(throws: RequestError.self) {
                try Request.read(params: params, body: &source, maxBodyBytes: 1 << 20, maxHeaderBytes: 4096)
            }
            #expect(source.bytes.count == 3, "nothing of the body was read")
        }
    }

    /// (boundary length, accepted?): RFC 2046 allows 1 to 70 characters.
    @Test("multipart: a boundary of 1 to 70 characters is used, a longer one is refused", arguments: [(1, true), (70, true), (71, false), (30_000, false)])
    func boundaryLength(length: Int, accepted: Bool) throws {
        let boundary = String(repeating: "b", count: length)
        let body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--\(boundary)--\r\n".utf8)
        if accepted {
            #expect(try MultipartFormDecoder().decode(body, boundary: boundary)["a"]?.stringValue == "1")
        } else {
            #expect(throws: FormError.invalidMultipart(reason: "the boundary is \(length) characters long; RFC 2046 allows 1 to 70")) {
                try MultipartFormDecoder().decode(body, boundary: boundary)
            }
        }
    }

    /// (haystack, needle, start): every case compared with a plain search.
    static let searchCases: [(String, String, Int)] = [
        ("", "a", 0), ("a", "a", 0), ("ab", "b", 0), ("abc", "abc", 0), ("abc", "abcd", 0), ("xabcabd", "abd", 0),
        ("aaaaab", "aab", 0), ("abababac", "ababac", 0), ("abcabc", "abc", 1), ("abcabc", "abc", 4), ("abc", "c", 3),
        ("--\r\n--b\r\n--bb", "\r\n--bb", 0), (String(repeating: "-", count: 500) + "x", String(repeating: "-", count: 69) + "x", 0),
        (String(repeating: "ab", count: 300) + "abc", "ababc", 0), ("mississippi", "issip", 0), ("mississippi", "issipi", 0),
    ]

    @Test("the byte search finds what a plain search finds", arguments: searchCases)
    func byteSearch(haystack: String, needle: String, start: Int) {
        let input = Array(haystack.utf8), pattern = Array(needle.utf8)
        var expected: Int? = nil
        for position in stride(from: max(start, 0), through: input.count - pattern.count, by: 1)
        where Array(input[position..<(position + pattern.count)]) == pattern {
            expected = position
            break
        }
        let found = input.withUnsafeBufferPointer { ByteSearch.firstIndex(of: pattern, in: $0, from: start) }
        #expect(found == expected, "\(needle.debugDescription) in \(haystack.prefix(40).debugDescription)…")
    }

    @Test("the byte search is linear: a 70-byte near-miss needle over 2 MiB of its prefix byte")
    func byteSearchIsLinear() {
        // A plain search compares up to 70 bytes at each of the 2 M positions; KMP looks at
        // each byte once. Both answer "not found"; this checks the answer, and the suite's
        // time (seconds, not minutes) shows the difference.
        let input = [UInt8](repeating: UInt8(ascii: "-"), count: 2 << 20)
        let needle = [UInt8](repeating: UInt8(ascii: "-"), count: 69) + [UInt8(ascii: "x")]
        #expect(input.withUnsafeBufferPointer { ByteSearch.firstIndex(of: needle, in: $0, from: 0) } == nil)
    }
}
