/// One HTTP request as the web server hands it over (FastCGI params or the CGI
/// environment, plus the body).
package struct Request: Sendable {
    /// The CGI/FastCGI parameters (`REQUEST_METHOD`, `QUERY_STRING`, `HTTP_*` headers, …).
    package var params: RequestParameters
    /// The request body (empty for GET).
    package var body: [UInt8]

    /// Creates a request.
    package init(params: RequestParameters, body: [UInt8]) {
        self.params = params
        self.body = body
    }

    /// Creates a request from a dictionary of parameters.
    package init(params: [String: String], body: [UInt8]) {
        self.init(params: RequestParameters(params), body: body)
    }

    /// `REQUEST_METHOD`, upper-cased as sent.
    package var method: String { params["REQUEST_METHOD"] ?? "GET" }
    /// `QUERY_STRING` (may be empty).
    package var queryString: String { params["QUERY_STRING"] ?? "" }
    /// `CONTENT_TYPE`, or nil when absent or empty.
    package var contentType: String? { params["CONTENT_TYPE"].flatMap { $0.isEmpty ? nil : $0 } }
    /// `REMOTE_ADDR`.
    package var remoteAddress: String? { params["REMOTE_ADDR"] }

    /// A request header by its HTTP name (`X-Listener-Token` → `HTTP_X_LISTENER_TOKEN`).
    package func header(_ name: String) -> String? {
        var key = "HTTP_"
        for byte in name.utf8 {
            let mapped: UInt8
            switch byte {
            case UInt8(ascii: "-"): mapped = UInt8(ascii: "_")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): mapped = byte - 32
            default: mapped = byte
            }
            key.unicodeScalars.append(Unicode.Scalar(mapped))
        }
        return params[key]
    }
}

/// Reads a request body from the web server (FastCGI stream or CGI stdin).
package protocol BodySource {
    /// Reads up to `buffer.count` bytes; returns 0 at end of input, or throws.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(RequestError) -> Int
}

/// Why a request was refused before it was decoded.
package enum RequestError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `CONTENT_LENGTH` over `limits.max_body_bytes`.
    case bodyTooLarge(length: Int, limit: Int)
    /// `CONTENT_LENGTH` is not a number.
    case invalidContentLength(String)
    /// The body ended before `CONTENT_LENGTH` bytes.
    case truncatedBody(expected: Int, received: Int)
    /// Reading the body failed.
    case readFailed(String)
    /// The parameters and headers together exceed `limits.max_header_bytes`.
    case headersTooLarge(size: Int, limit: Int)

    /// The one-line message sent to the client and logged.
    package var description: String {
        switch self {
        case .bodyTooLarge(let length, let limit):
            return "body of \(length) bytes is larger than \(limit) bytes (limits.max_body_bytes)"
        case .invalidContentLength(let value):
            return "CONTENT_LENGTH '\(value.prefix(32))' is not a number"
        case .truncatedBody(let expected, let received):
            return "body ended after \(received) of \(expected) bytes"
        case .readFailed(let reason):
            return "reading the body failed: \(reason)"
        case .headersTooLarge(let size, let limit):
            return "request headers and parameters of \(size) bytes exceed \(limit) bytes (limits.max_header_bytes)"
        }
    }
}

extension Request {
    /// Builds a request from web-server parameters and a body source: the one function
    /// both FastCGI and CGI go through (like Go's `cgi.RequestFromMap`).
    ///
    /// `CONTENT_LENGTH` is checked against `maxBodyBytes` before anything is read, and the
    /// body is read with that cap, so an oversized body is never buffered.
    package static func read(
        params: RequestParameters, body source: inout some BodySource, maxBodyBytes: Int, maxHeaderBytes: Int = Int.max
    ) throws(RequestError) -> Request {
        if params.size > maxHeaderBytes { throw .headersTooLarge(size: params.size, limit: maxHeaderBytes) }
        guard let text = params["CONTENT_LENGTH"], !text.isEmpty else {
            // No length: a POST whose body was sent chunked (Apache's mod_cgi passes it that
            // way) is read to its end, still capped; dropping it would store an empty contact.
            if params["REQUEST_METHOD"] == "POST" {
                return Request(params: params, body: try readToEnd(&source, maxBodyBytes: maxBodyBytes))
            }
            return Request(params: params, body: [])
        }
        // RFC 3875 §4.1.2: CONTENT_LENGTH = 1*digit (no sign, no spaces).
        guard text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let length = Int(text) else {
            throw .invalidContentLength(text)
        }
        if length > maxBodyBytes { throw .bodyTooLarge(length: length, limit: maxBodyBytes) }
        var body = [UInt8](repeating: 0, count: length)
        var received = 0
        while received < length {
            let count = try read(&source, into: &body, at: received)
            if count == 0 { break }
            received += count
        }
        if received < length { throw .truncatedBody(expected: length, received: received) }
        return Request(params: params, body: body)
    }

    /// `read(params:body:maxBodyBytes:maxHeaderBytes:)` with the parameters in a dictionary.
    package static func read(
        params: [String: String], body source: inout some BodySource, maxBodyBytes: Int, maxHeaderBytes: Int = Int.max
    ) throws(RequestError) -> Request {
        try read(params: RequestParameters(params), body: &source, maxBodyBytes: maxBodyBytes, maxHeaderBytes: maxHeaderBytes)
    }

    /// Reads until the end of input, refusing more than `maxBodyBytes`.
    private static func readToEnd(_ source: inout some BodySource, maxBodyBytes: Int) throws(RequestError) -> [UInt8] {
        var body: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = try read(&source, into: &chunk, at: 0)
            if count == 0 { return body }
            body.append(contentsOf: chunk[0..<count])
            if body.count > maxBodyBytes { throw .bodyTooLarge(length: body.count, limit: maxBodyBytes) }
        }
    }

    /// One `read` from `source` into `buffer` from `offset` on (typed throws can't cross
    /// `withUnsafeMutableBytes`, so the error is carried out by hand, in this one place).
    private static func read(_ source: inout some BodySource, into buffer: inout [UInt8], at offset: Int) throws(RequestError) -> Int {
        var failure: RequestError?
        let count = buffer.withUnsafeMutableBytes { bytes -> Int in
            do throws(RequestError) {
                return try source.read(into: UnsafeMutableRawBufferPointer(rebasing: bytes[offset...]))
            } catch {
                failure = error
                return 0
            }
        }
        if let failure { throw failure }
        return count
    }
}
