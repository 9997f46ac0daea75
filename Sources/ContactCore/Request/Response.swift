/// An answer to the web server: a status, a JSON body, in CGI's response format.
package struct Response: Sendable, Equatable {
    /// The HTTP status code.
    package var status: Int
    /// The body (one line of JSON, or `pong`, …).
    package var body: [UInt8]
    /// The media type of `body`.
    package var contentType: String
    /// Headers beyond Status, Content-Type, Content-Length and Cache-Control (the console's
    /// Set-Cookie, Location, Content-Security-Policy, …).
    package var headers: [Header]

    /// One extra header line.
    package struct Header: Sendable, Equatable {
        /// The header's name.
        package var name: String
        /// Its value (CR and LF are dropped when written: no header splitting).
        package var value: String

        /// Creates a header.
        package init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Creates a response.
    package init(status: Int, body: [UInt8], contentType: String = "application/json", headers: [Header] = []) {
        self.status = status
        self.body = body
        self.contentType = contentType
        self.headers = headers
    }

    /// `{"ok":false,"error":"…"}` with `status`.
    package static func error(_ status: Int, _ message: String) -> Response {
        var writer = JSONWriter(capacity: 96 + message.utf8.count)
        writer.beginObject()
        writer.key("ok")
        writer.bool(false)
        writer.key("error")
        writer.string(message)
        writer.endObject()
        writer.bytes.append(UInt8(ascii: "\n"))
        return Response(status: status, body: writer.bytes)
    }

    /// The CGI/FastCGI wire form: `Status:` and headers, a blank line, the body.
    package var wireBytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(body.count + 128)
        bytes.append(contentsOf: "Status: \(status) \(Response.reason(status))\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\nCache-Control: no-store\r\n".utf8)
        for header in headers {
            let unsplittable = { (byte: UInt8) in byte != UInt8(ascii: "\r") && byte != UInt8(ascii: "\n") }
            bytes.append(contentsOf: header.name.utf8.filter(unsplittable))
            bytes.append(contentsOf: ": ".utf8)
            bytes.append(contentsOf: header.value.utf8.filter(unsplittable))
            bytes.append(contentsOf: "\r\n".utf8)
        }
        bytes.append(contentsOf: "\r\n".utf8)
        bytes.append(contentsOf: body)
        return bytes
    }

    /// The standard reason phrase of the codes the listener uses.
    package static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 303: return "See Other"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 411: return "Length Required"
        case 413: return "Payload Too Large"
        case 415: return "Unsupported Media Type"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }
}
