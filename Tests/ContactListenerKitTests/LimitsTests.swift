import Testing
@testable import ContactListenerKit

/// The limits on multipart parts and on the size of the request's parameters (issue 3).
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
            #expect(PipelineError.request(.headersTooLarge(size: 10_100, limit: 4096)).status == 431)
        }
    }

    @Test("limits.max_parts and limits.max_header_bytes are read from the config")
    func configuration() throws {
        let configuration = try ListenerConfiguration.parse(
            "limits: { max_parts: 50, max_header_bytes: 16k }\n", file: "t.yaml", baseDirectory: ".", environment: [:])
        #expect(configuration.limits.maxParts == 50)
        #expect(configuration.limits.maxHeaderBytes == 16 * 1024)
    }
}
